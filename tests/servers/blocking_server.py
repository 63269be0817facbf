"""A blocking server from the standard library: http.server's HTTPServer, handed hot's socket
(`socket.socket(fileno=3)`) instead of binding one. Answers every request with
`pid=… version=… server=blocking`; on SIGTERM/SIGINT it finishes the request in hand and exits.
Environment: see common.py."""

import http.server
import signal
import threading

import common

VERSION = common.startup()
server = common.http_server(http.server.HTTPServer, common.answer(VERSION, "blocking"))
stop = threading.Event()
for sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(sig, lambda *_: stop.set())
thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
thread.start()
common.ready()
while not stop.wait(1):
    pass
server.shutdown()
thread.join()
