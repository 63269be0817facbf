"""A server that does not drain: Python's ThreadingHTTPServer on hot's socket
(`socket.socket(fileno=3)`), with SIGTERM left at its default action, so it dies at once with
whatever connections it holds. Each request takes 20 ms, as an app's would. Answers `pid=… version=… server=dying-python`. Environment: see
common.py."""

import http.server

import common

VERSION = common.startup()
# An app's own work: a request is in hand for 20 ms, as in a real one.
server = common.http_server(
    http.server.ThreadingHTTPServer, common.answer(VERSION, "dying-python"), work=0.02
)
common.ready()
server.serve_forever()
