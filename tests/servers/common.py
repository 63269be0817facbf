"""What every Python interop server shares: its start-up (a slow start, then `ready`) and its
answer. See tests/interop/ for how hot's tests use them."""

import os
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
