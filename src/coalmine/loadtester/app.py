"""The load tester's HTTP application: tasks at `/`, manual gates, `/healthz`."""

from __future__ import annotations

from aiohttp import web

from coalmine.load import generate_load
from coalmine.loadtester.background import BackgroundTasks
from coalmine.loadtester.gates import Gates, add_gate_routes
from coalmine.loadtester.guard import guard
from coalmine.loadtester.tasks import LoadRunner, TaskHandler, TaskSettings

__all__ = ["BACKGROUND", "GATES", "create_app"]

MAX_BODY = 1024 * 1024
"""A webhook payload is a few hundred bytes; larger bodies get 413."""
GATES = web.AppKey("gates", Gates)
BACKGROUND = web.AppKey("background", BackgroundTasks)


def create_app(
    settings: TaskSettings | None = None, *, run_load: LoadRunner = generate_load
) -> web.Application:
    """A load tester. Its background tasks stop (and their processes die) on app cleanup."""
    settings = settings or TaskSettings()
    app = web.Application(middlewares=[guard(settings.token)], client_max_size=MAX_BODY)
    app[GATES] = Gates()
    app[BACKGROUND] = BackgroundTasks()
    tasks = TaskHandler(settings, app[BACKGROUND], run_load)
    app.router.add_post("/", tasks.handle)
    app.router.add_get("/healthz", _healthz)
    add_gate_routes(app, app[GATES])
    app.on_cleanup.append(_stop_tasks)
    return app


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="OK")


async def _stop_tasks(app: web.Application) -> None:
    await app[BACKGROUND].close()
