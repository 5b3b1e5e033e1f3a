"""`coalmine loadtester`: serve webhook tasks and manual gates over HTTP."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from coalmine.errors import CoalmineError, Unavailable

__all__ = ["TOKEN_ENV", "loadtester"]

TOKEN_ENV = "COALMINE_LOADTESTER_TOKEN"  # noqa: S105 - a variable name, not a secret


def loadtester(
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8080,
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on (0.0.0.0 in a cluster, where a Service fronts it)."
        ),
    ] = "127.0.0.1",
    enable_commands: Annotated[
        bool,
        typer.Option(
            "--enable-commands",
            help="Run cmd and bash tasks (off by default); requires a token.",
        ),
    ] = False,
    token_file: Annotated[
        Path | None,
        typer.Option(help=f"File holding the token every request must carry (else ${TOKEN_ENV})."),
    ] = None,
) -> None:
    """Run the load tester that canary webhooks call: tasks (cmd, bash, load) and gates.

    It answers Flagger's load tester protocol at `/`, keeps per-canary manual gates
    at /gate/* and /rollback/*, and reports health at /healthz. It stops on Ctrl-C
    or SIGTERM, and stops every task it started. See docs/webhooks.md and
    docs/security.md: cmd and bash run only with --enable-commands and a token, and
    requests from browsers (an Origin header) or without a JSON body are refused.

    Example:  coalmine loadtester --port 8080
    """
    from coalmine.loadtester import TaskSettings, serve

    token = _token(token_file)
    try:
        settings = TaskSettings(commands=enable_commands, token=token)
    except ValueError as error:
        raise CoalmineError(f"--enable-commands: {error}") from None
    try:
        serve(host, port, settings)
    except OSError as error:
        raise Unavailable(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def _token(path: Path | None) -> str | None:
    if path is None:
        return os.environ.get(TOKEN_ENV) or None
    try:
        return path.read_text().strip() or None
    except OSError as error:
        raise CoalmineError(f"--token-file {path}: cannot read: {error.strerror}") from None
