"""An asyncio server that takes hot's socket as asyncio apps do:
`asyncio.start_server(sock=socket.socket(fileno=3))`. asyncio makes the socket non-blocking and
accepts until BlockingIOError on one thread. Answers every HTTP request with
`pid=… version=… server=asyncio`; drains on SIGTERM/SIGINT. Environment: see common.py."""

import asyncio
import signal
import socket

import common

VERSION = common.startup()
BODY = common.answer(VERSION, "asyncio")
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)


async def handle(reader, writer):
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(RESPONSE)
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    handlers = set()

    def track(reader, writer):
        task = asyncio.ensure_future(handle(reader, writer))
        handlers.add(task)
        task.add_done_callback(handlers.discard)

    # The fd stays open in hot; this process only closes its own duplicate on exit.
    server = await asyncio.start_server(track, sock=socket.socket(fileno=3))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    common.ready()
    await stop.wait()
    server.close()
    # A connection accepted just before the stop gets its handler on a later turn of the
    # loop; without this pause asyncio.run() would cancel it and the client would be reset.
    await asyncio.sleep(0.1)
    while handlers:
        await asyncio.wait(set(handlers))


asyncio.run(main())
