"""Werkzeug for hot's interop tests, taking hot's socket as its ecosystem does:
`make_server(..., fd=3)` (the fd `flask run` passes its reloader child), then `serve_forever()`.
It keeps Python's default SIGTERM: it dies, draining nothing. Answers `server=werkzeug`."""

import common
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

VERSION = common.startup()


def app(environ, start_response):
    return Response(common.answer(VERSION, "werkzeug"), mimetype="text/plain")(
        environ, start_response
    )


# host and port are ignored when fd is given; the socket is taken as it is.
server = make_server("127.0.0.1", 0, app, threaded=True, fd=3)
common.ready()
server.serve_forever()
