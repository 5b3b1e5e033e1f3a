"""Who may see the dashboard: whoever opened the printed address.

The address carries the token once (`?token=`); the answer sets an HttpOnly,
SameSite=Strict session cookie derived from it and redirects to the same page without
the token, so it does not stay in the history or the address bar. Everything else
without the cookie (or `Authorization: Bearer TOKEN`) gets 401.

Writes (promote, abort, pause, resume) also need a same-origin `Origin` and the page's
CSRF token in `X-CSRF-Token`: another site open in the same browser can neither read
the token nor send it. The Host header must be 127.0.0.1 or localhost (no DNS rebinding).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

__all__ = ["COOKIE", "Access", "access_middleware"]

COOKIE = "coalmine_dashboard"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Access:
    token: str
    """The secret in the printed address: the local API's token, or a fresh one."""

    def _derive(self, purpose: str) -> str:
        return hmac.new(self.token.encode(), purpose.encode(), hashlib.sha256).hexdigest()

    @property
    def session(self) -> str:
        return self._derive("dashboard session")

    @property
    def csrf(self) -> str:
        return self._derive("dashboard csrf")

    def admits(self, request: web.Request) -> bool:
        cookie = request.cookies.get(COOKIE, "")
        bearer = request.headers.get("Authorization", "")
        return secrets.compare_digest(cookie, self.session) or secrets.compare_digest(
            bearer, f"Bearer {self.token}"
        )


def _unauthorized() -> web.Response:
    return web.Response(
        status=401,
        text="401: open the address `coalmine dashboard` (or `coalmine up`) printed;"
        " it carries the token once and sets a session cookie.\n",
    )


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin == f"{request.scheme}://{request.host}"


def access_middleware(access: Access) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.host.rsplit(":", 1)[0] if request.host else ""
        if host not in LOCAL_HOSTS:
            return web.Response(status=421, text="421: use 127.0.0.1 or localhost\n")
        offered = request.query.get("token")
        if offered is not None:
            if not secrets.compare_digest(offered, access.token):
                return _unauthorized()
            query = {k: v for k, v in request.query.items() if k != "token"}
            redirect = web.Response(
                status=303, headers={"Location": str(request.rel_url.with_query(query))}
            )
            redirect.set_cookie(COOKIE, access.session, httponly=True, samesite="Strict", path="/")
            return redirect
        if not access.admits(request):
            return _unauthorized()
        if request.method != "GET":
            csrf = request.headers.get("X-CSRF-Token", "")
            if not _same_origin(request) or not secrets.compare_digest(csrf, access.csrf):
                return web.Response(status=403, text="403: cross-site request refused\n")
        answer = await handler(request)
        if not answer.prepared:  # a stream has sent its headers already (they are set there)
            answer.headers.setdefault("Content-Security-Policy", CSP)
            answer.headers.setdefault("X-Content-Type-Options", "nosniff")
            answer.headers.setdefault("Referrer-Policy", "no-referrer")
        return answer

    return middleware


CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""Only the dashboard's own script and style run: an escaping mistake could not load more."""
