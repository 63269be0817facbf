"""`hypercorn hypercorn_app:app --bind fd://3` in hot's interop tests; ready at `Running on`."""

import asgi_app

app = asgi_app.make("hypercorn")
