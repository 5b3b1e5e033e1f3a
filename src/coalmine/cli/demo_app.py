"""`coalmine demo-app`: run the demo service, as local-mode Deployments of the demo do."""

from __future__ import annotations

import dataclasses
import os
from typing import Annotated

import typer

__all__ = ["demo_app"]


def demo_app(
    port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65_535, help="Port to listen on (default: $PORT or 8080; 0 = free)."
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: $HOST or 127.0.0.1).")
    ] = None,
) -> None:
    """Run the demo service (coalmine's go-demo-7) until SIGTERM or Ctrl-C.

    This is the command local-mode Deployments of the demo run. It is configured by
    environment variables: VERSION, PORT, HOST, DEMO_ERROR_RATE, DEMO_DELAY_MS and
    DEMO_RANDOM_DELAY_MAX_MS (see docs/demo.md).

    Example:  VERSION=0.0.2 coalmine demo-app --port 8081
    """
    import asyncio

    from coalmine.demo import DemoSettings, serve
    from coalmine.demo.server import exit_now

    settings = DemoSettings.from_env(os.environ)
    settings = dataclasses.replace(
        settings, port=settings.port if port is None else port, host=host or settings.host
    )
    asyncio.run(serve(settings, announce=lambda line: typer.echo(line)))
    exit_now(0)  # stopped cleanly: skip the interpreter's teardown (coalmine.demo.server)
