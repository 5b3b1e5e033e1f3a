"""`coalmine gate` and `coalmine rollback-gate`: open and close a load tester's manual gates.

They POST `{"name", "namespace"}` to the load tester's /gate/* or /rollback/*
endpoints, as one would with curl. The load tester's address comes from --url, else
the COALMINE_LOADTESTER_URL environment variable, else http://127.0.0.1:8080 (in a
cluster: `kubectl port-forward svc/coalmine-loadtester 8080:80`).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from coalmine.errors import CoalmineError, Unavailable

__all__ = ["DEFAULT_URL", "GateAction", "gate", "rollback_gate"]

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_SECONDS = 10.0


class GateAction(StrEnum):
    OPEN = "open"
    CLOSE = "close"
    CHECK = "check"


Action = Annotated[GateAction, typer.Argument(help="open, close, or check (print the state).")]
CanaryName = Annotated[str, typer.Argument(help="The Canary's name.")]
Namespace = Annotated[str, typer.Option("--namespace", "-n", help="The Canary's namespace.")]
Url = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="COALMINE_LOADTESTER_URL",
        help="The load tester's base URL.",
        show_default=True,
    ),
]
Token = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="COALMINE_LOADTESTER_TOKEN",
        help="The load tester's token, when it has one (the one of coalmine up: see api.json).",
        show_default=False,
    ),
]


def gate(
    action: Action,
    canary: CanaryName,
    namespace: Namespace = "default",
    url: Url = DEFAULT_URL,
    token: Token = "",
) -> None:
    """Open, close or check a Canary's manual gate on the load tester.

    The gate is what confirm-rollout, confirm-traffic-increase and confirm-promotion
    webhooks pointed at the load tester's /gate/check wait for.

    Example:  coalmine gate open go-demo-7 -n go-demo-7 --url http://127.0.0.1:8080
    """
    _drive("gate", action, canary, namespace, url, token)


def rollback_gate(
    action: Action,
    canary: CanaryName,
    namespace: Namespace = "default",
    url: Url = DEFAULT_URL,
    token: Token = "",
) -> None:
    """Open, close or check a Canary's rollback gate on the load tester.

    Once open, a rollback webhook pointed at the load tester's /rollback/check rolls
    the running analysis back at its next interval. Close it before the next rollout.

    Example:  coalmine rollback-gate open go-demo-7 -n go-demo-7
    """
    _drive("rollback", action, canary, namespace, url, token)


def _drive(
    kind: str, action: GateAction, canary: str, namespace: str, url: str, token: str
) -> None:
    import asyncio

    endpoint = f"{url.rstrip('/')}/{kind}/{action.value}"
    payload = {"name": canary, "namespace": namespace}
    status, text = asyncio.run(_post(endpoint, payload, token))
    key = f"{canary}.{namespace}"
    if action == GateAction.CHECK and status in (200, 403):
        typer.echo(f"{kind} for {key} is {'open' if status == 200 else 'closed'}")
        return
    if status >= 300:
        raise CoalmineError(f"{endpoint} answered HTTP {status}: {text.strip()}")
    typer.echo(f"{kind} {'opened' if action == GateAction.OPEN else 'closed'} for {key}")


async def _post(endpoint: str, payload: dict[str, str], token: str) -> tuple[int, str]:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(endpoint, data=json.dumps(payload), headers=headers) as response,
        ):
            return response.status, await response.text(errors="replace")
    except aiohttp.InvalidURL:
        raise CoalmineError(f"--url: {endpoint!r} is not a valid URL") from None
    except TimeoutError:
        raise Unavailable(
            f"the load tester at {endpoint} did not answer within {TIMEOUT_SECONDS:g}s"
        ) from None
    except (aiohttp.ClientError, OSError) as error:
        raise Unavailable(
            f"cannot reach the load tester at {endpoint}: {error}; "
            "is it running? set --url or COALMINE_LOADTESTER_URL"
        ) from None
