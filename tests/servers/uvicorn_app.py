"""`uvicorn uvicorn_app:app --fd 3` in hot's interop tests; ready at `Uvicorn running on`."""

import asgi_app

app = asgi_app.make("uvicorn")
