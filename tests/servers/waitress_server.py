"""waitress for hot's interop tests, taking hot's socket as its documentation says:
`serve(app, sockets=[socket.fromfd(3, ...)])`. It logs `Serving on` (INFO) once it listens,
the ready line; at SIGTERM it dies, draining nothing. Answers `server=waitress`."""

import logging
import socket

import common
from waitress import serve

VERSION = common.startup()


def app(environ, start_response):
    body = common.answer(VERSION, "waitress")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


logging.basicConfig(level=logging.INFO)
serve(app, sockets=[socket.fromfd(3, socket.AF_INET, socket.SOCK_STREAM)])
