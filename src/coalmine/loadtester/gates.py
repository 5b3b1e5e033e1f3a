"""Manual gates, per canary: Flagger's load tester endpoints with the same answers.

A gate is closed until opened. `/gate/check` answers 200 when the canary's gate is
open and 403 when it is closed, so a confirm-* webhook pointed at it holds the canary
until someone runs `coalmine gate open` (or POSTs to `/gate/open`). The rollback gate
is separate: `/rollback/check` answers 200 (roll back) only once `/rollback/open` was
called. `/gate/approve` always passes and `/gate/halt` always holds.

As in Flagger, gates live in memory (a restarted load tester has every gate closed)
and stay as set: an opened gate lets the next rollout through too until it is closed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from coalmine.loadtester.logs import log_event
from coalmine.loadtester.payload import BadRequest, read_payload

__all__ = ["Gates", "add_gate_routes"]

Handler = Callable[[web.Request], Awaitable[web.Response]]


class Gates:
    """Open/closed per key; an unknown key is closed."""

    def __init__(self) -> None:
        self._open: dict[str, bool] = {}

    def set(self, key: str, is_open: bool) -> None:
        self._open[key] = is_open

    def is_open(self, key: str) -> bool:
        return self._open.get(key, False)


def add_gate_routes(app: web.Application, gates: Gates) -> None:
    """Register the gate endpoints of the load tester on `app`."""
    app.router.add_route("*", "/gate/approve", _approve)
    app.router.add_route("*", "/gate/halt", _halt)
    for kind, key_prefix in (("gate", ""), ("rollback", "rollback.")):
        app.router.add_post(f"/{kind}/check", _checker(gates, kind, key_prefix))
        app.router.add_post(f"/{kind}/open", _setter(gates, kind, key_prefix, True))
        app.router.add_post(f"/{kind}/close", _setter(gates, kind, key_prefix, False))


async def _approve(request: web.Request) -> web.Response:
    return web.Response(text="Approved")


async def _halt(request: web.Request) -> web.Response:
    return web.Response(status=403, text="Forbidden")


def _checker(gates: Gates, kind: str, key_prefix: str) -> Handler:
    async def check(request: web.Request) -> web.Response:
        try:
            payload = await read_payload(request)
        except BadRequest as error:
            return web.Response(status=400, text=str(error))
        is_open = gates.is_open(key_prefix + payload.canary)
        log_event(f"{kind} check", payload, open=is_open)
        if is_open:
            return web.Response(text="Approved")
        return web.Response(status=403, text="Forbidden")

    return check


def _setter(gates: Gates, kind: str, key_prefix: str, is_open: bool) -> Handler:
    async def set_gate(request: web.Request) -> web.Response:
        try:
            payload = await read_payload(request)
        except BadRequest as error:
            return web.Response(status=400, text=str(error))
        gates.set(key_prefix + payload.canary, is_open)
        state = "opened" if is_open else "closed"
        log_event(f"{kind} {state}", payload)
        return web.Response(status=202, text=f"{kind} {state} for {payload.canary}")

    return set_gate
