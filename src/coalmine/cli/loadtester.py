"""`coalmine loadtester`: serve webhook tasks and manual gates over HTTP."""

from __future__ import annotations

from typing import Annotated

import typer

from coalmine.errors import Unavailable

__all__ = ["loadtester"]


def loadtester(
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8080,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",  # noqa: S104
) -> None:
    """Run the load tester that canary webhooks call: tasks (cmd, bash, load) and gates.

    It answers Flagger's load tester protocol at `/`, keeps per-canary manual gates
    at /gate/* and /rollback/*, and reports health at /healthz. It stops on Ctrl-C
    or SIGTERM, and stops every task it started. See docs/webhooks.md.

    Example:  coalmine loadtester --port 8080
    """
    from coalmine.loadtester import serve

    try:
        serve(host, port)
    except OSError as error:
        raise Unavailable(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
