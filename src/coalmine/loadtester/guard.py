"""Who may ask the load tester for what.

The load tester can run commands (`cmd`, `bash`), so it must not do so for anyone who
can reach its port: another user on the machine, or a web page in a browser (a page can
POST to localhost, but only as a "simple" request: a form content type, an `Origin`).

- Every request that carries an `Origin` header is refused (403): webhooks come from a
  controller, never from a browser.
- Every POST must say `Content-Type: application/json` (415 otherwise), which a page
  cannot send across origins without a preflight the load tester never answers.
- With a token set, every POST must carry `Authorization: Bearer <token>` (401).
- `cmd` and `bash` run only when the load tester was started with commands enabled,
  which requires a token (see `TaskSettings`).
`GET /healthz` stays open, for probes.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

__all__ = ["guard"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guard(token: str | None) -> Any:
    """aiohttp middleware applying the rules of the module docstring."""
    expected = f"Bearer {token}" if token else None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if "Origin" in request.headers:
            return _refuse(403, "requests from a browser (with an Origin header) are refused")
        if request.method == "POST":
            if request.content_type != "application/json":
                return _refuse(415, "send the payload as JSON with Content-Type: application/json")
            given = request.headers.get("Authorization", "")
            if expected is not None and not secrets.compare_digest(given, expected):
                return _refuse(401, "missing or wrong token: send Authorization: Bearer <token>")
        return await handler(request)

    return middleware


def _refuse(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message)
