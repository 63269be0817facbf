"""gunicorn settings for hot's interop tests: one sync worker, and the ready line of
docs/recipes.md's gunicorn recipe, printed where the recipe prints it (tests/interop checks
that the two stay the same)."""

workers = 1
worker_class = "sync"
graceful_timeout = 5


def post_worker_init(worker):
    # The app is loaded and the worker accepts next: hot's `ready log` line.
    print(f"worker {worker.pid} serving", flush=True)
