"""Flagger's session affinity cookies: who gets which cookie and how a request carrying
one is recognised.

During an analysis (canary weight above 0) responses from the canary set the canary
cookie, and requests carrying it go to the canary whatever the weights; with
`primaryCookieName`, responses from the primary set the primary cookie and requests
carrying it stay on the primary; it lasts one analysis interval (Flagger's Max-Age), so
that its holders are drawn again by the next step's weights. Once the weight is back at
0 (promoted, rolled back or restarted), requests carrying the last analysis's canary
cookie get it expired (`Max-Age=-1`).

The status records the cookies (Flagger's meaning, set by the engine whenever it sets
routes: `coalmine.engine.session_affinity`); the routers read them from the status, and
derive the same value as the engine the first time the weight rises, before the status
with it is written.
"""

from __future__ import annotations

from coalmine.api.canary import Canary, SessionAffinity
from coalmine.engine.session_affinity import new_canary_cookie, new_primary_cookie

__all__ = [
    "STICKY_ROUTE",
    "canary_cookie",
    "cookie_match",
    "cookie_to_expire",
    "expired",
    "primary_cookie",
    "set_cookie",
]

STICKY_ROUTE = "sticky-route"
"""Name of the routes that send a cookie's holders to one side (Flagger's name)."""


def canary_cookie(canary: Canary, affinity: SessionAffinity) -> str:
    """`name=value` of the canary cookie of the analysis under way: the status's, or (the
    first time the weight rises, before the status is written) the one it will record."""
    status = canary.status
    return status.session_affinity_cookie or new_canary_cookie(
        canary, affinity, status.last_applied_spec
    )


def primary_cookie(canary: Canary, affinity: SessionAffinity) -> str | None:
    """`name=value` of the primary cookie, with primaryCookieName; else None."""
    if not affinity.primary_cookie_name:
        return None
    status = canary.status
    return status.primary_session_affinity_cookie or new_primary_cookie(
        canary, affinity, status.last_applied_spec
    )


def cookie_to_expire(canary: Canary) -> str | None:
    """At weight 0: the cookie of the analysis just ended (still in sessionAffinityCookie
    when the routes are set before the status is written), else the previous one."""
    status = canary.status
    return status.session_affinity_cookie or status.previous_session_affinity_cookie


def set_cookie(cookie: str, affinity: SessionAffinity, *, max_age: int | None = None) -> str:
    """The Set-Cookie header value: the cookie with `max_age` (default: maxAge) and the
    attributes given."""
    parts = [cookie, f"Max-Age={affinity.max_age_seconds if max_age is None else max_age}"]
    if affinity.domain:
        parts.append(f"Domain={affinity.domain}")
    if affinity.path:
        parts.append(f"Path={affinity.path}")
    if affinity.same_site:
        parts.append(f"SameSite={affinity.same_site}")
    flags = {"HttpOnly": affinity.http_only, "Partitioned": affinity.partitioned}
    flags["Secure"] = affinity.secure
    parts += [flag for flag, on in flags.items() if on]
    return "; ".join(parts)


def expired(cookie: str) -> str:
    """The Set-Cookie value that makes a browser drop `cookie` (Flagger's `Max-Age=-1`)."""
    return f"{cookie}; Max-Age=-1"


def cookie_match(cookie: str) -> dict[str, dict[str, str]]:
    """A header match for requests carrying `cookie` (Flagger's `.*name.*value.*`)."""
    name, _, value = cookie.partition("=")
    return {"cookie": {"regex": f".*{_escape(name)}.*{_escape(value)}.*"}}


def _escape(text: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "\\" + c for c in text)
