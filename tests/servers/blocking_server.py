"""A blocking server from the standard library: http.server's HTTPServer, handed hot's socket
(`socket.socket(fileno=3)`) instead of binding one. Answers every request with
`pid=… version=… server=blocking`; on SIGTERM/SIGINT it finishes the request in hand and exits.
Environment: see common.py."""

import http.server
import signal
import socket
import threading

import common

VERSION = common.startup()
BODY = common.answer(VERSION, "blocking")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
server.socket.close()
server.socket = socket.socket(fileno=3)
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
