"""An ASGI app for uvicorn and Hypercorn in hot's interop tests (uvicorn_app.py,
hypercorn_app.py): the slow start of common.py at import, then `pid=… version=… server=…`."""

import common


def make(server):
    version = common.startup()

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = common.answer(version, server)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/plain"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app
