"""A WSGI app for gunicorn in hot's interop tests. gunicorn takes hot's socket itself when
LISTEN_PID is its own pid (strictly: otherwise it binds its own). The app loads in the worker,
with the slow start of common.py; gunicorn_conf.py prints the recipe's ready line once the
worker has loaded it.
Answers `pid=<worker pid> version=… server=gunicorn`."""

import common

VERSION = common.startup()


def app(environ, start_response):
    body = common.answer(VERSION, "gunicorn")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
