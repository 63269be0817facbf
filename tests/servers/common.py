"""What every Python interop server shares: its start-up (a slow start, then `ready`) and its
answer. See tests/interop/ for how hot's tests use them."""

import http.server
import os
import socket
import sys
import time


def startup():
    """Sleeps STARTUP_MS (a slow start) and returns the answer body this server gives."""
    version = ""
    if os.environ.get("VERSION_FILE"):
        with open(os.environ["VERSION_FILE"]) as f:
            version = f.read().strip()
    ms = os.environ.get("STARTUP_MS")
    if ms:
        time.sleep(int(ms) / 1000)
    return version


def answer(version, server):
    return f"pid={os.getpid()} version={version} server={server}\n".encode()


def ready():
    if os.environ.get("STARTUP_MS"):
        print("ready", flush=True)
    sys.stdout.flush()


def http_server(server_class, body, work=0.0):
    """An http.server of `server_class` on hot's socket (`socket.socket(fileno=3)`, never
    bound here) that answers every GET with `body`, after `work` seconds of an app's own work."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if work:
                time.sleep(work)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = server_class(("127.0.0.1", 0), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=3)
    return server
