"""Running the load tester until SIGTERM or SIGINT, logging JSON lines to stderr."""

from __future__ import annotations

import logging

from aiohttp import web

from coalmine.loadtester.app import create_app
from coalmine.loadtester.logs import log_event
from coalmine.loadtester.tasks import TaskSettings

__all__ = ["DEFAULT_PORT", "serve"]

DEFAULT_PORT = 8080
SHUTDOWN_SECONDS = 5.0
"""How long open requests get when the server stops; background tasks are stopped."""


def serve(host: str, port: int, settings: TaskSettings | None = None) -> None:
    """Serve until stopped. Raises OSError when the port cannot be bound."""
    from coalmine.logs import configure_logging

    configure_logging(logging.INFO, json_lines=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    log_event("listening", host=host, port=port)
    web.run_app(
        create_app(settings),
        host=host,
        port=port,
        print=None,
        shutdown_timeout=SHUTDOWN_SECONDS,
        access_log=None,
    )
    log_event("stopped")
