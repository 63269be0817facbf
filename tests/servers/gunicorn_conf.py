"""gunicorn settings for hot's interop tests: one sync worker; `ready` once it has loaded the
app (the only point where gunicorn itself knows it can serve)."""

import common

workers = 1
worker_class = "sync"
graceful_timeout = 5


def post_worker_init(worker):
    common.ready()
