"""A server that does not drain: Python's ThreadingHTTPServer on hot's socket
(`socket.socket(fileno=3)`), with SIGTERM left at its default action, so it dies at once with
whatever connections it holds. Each request takes 20 ms, as an app's would. Answers `pid=… version=… server=dying-python`. Environment: see
common.py."""

import http.server
import socket
import time

import common

VERSION = common.startup()
BODY = common.answer(VERSION, "dying-python")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        # An app's own work: a request is in hand for a while, as in a real one.
        time.sleep(0.02)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
server.socket.close()
server.socket = socket.socket(fileno=3)
common.ready()
server.serve_forever()
