"""Flagger's session affinity cookies: who gets which cookie and how a request carrying
one is recognised.

During an analysis (canary weight above 0) responses from the canary set the canary
cookie, and requests carrying it go to the canary whatever the weights; with
`primaryCookieName`, responses from the primary set the primary cookie and requests
carrying it stay on the primary; it lasts one analysis interval (Flagger's Max-Age), so
that its holders are drawn again by the next step's weights. Once the weight is back at
0 (promoted, rolled back or restarted), requests carrying the last analysis's canary
cookie get it expired (`Max-Age=-1`).

The status carries the cookies with Flagger's meaning (`pkg/router/istio.go` SetRoutes):
`sessionAffinityCookie` (and `primarySessionAffinityCookie`) while the weight is above 0;
when it returns to 0 the canary cookie moves to `previousSessionAffinityCookie`, the one
the routers expire. The engine records them whenever it sets routes
(`record_cookies`); the routers read them from the status.

Flagger draws a random cookie value; coalmine derives it from the Canary's uid and the
revision under analysis (`status.lastAppliedSpec`), so a tick whose status write failed
and is repeated, or another replica of the controller, sets the same value, and the next
revision gets a new one. The value is ten letters, as Flagger's.
"""

from __future__ import annotations

import hashlib
import string

from coalmine.api.canary import Canary, CanaryStatus, SessionAffinity

__all__ = [
    "STICKY_ROUTE",
    "canary_cookie",
    "cookie_match",
    "cookie_to_expire",
    "expired",
    "primary_cookie",
    "record_cookies",
    "set_cookie",
]

STICKY_ROUTE = "sticky-route"
"""Name of the routes that send a cookie's holders to one side (Flagger's name)."""

_LETTERS = string.ascii_letters


def _value(canary: Canary, revision: str | None, role: str) -> str:
    seed = f"{canary.metadata.uid or canary.key}/{revision or ''}/{role}".encode()
    digest = hashlib.sha256(seed).digest()
    return "".join(_LETTERS[byte % len(_LETTERS)] for byte in digest[:10])


def _new_canary_cookie(canary: Canary, affinity: SessionAffinity, revision: str | None) -> str:
    return f"{affinity.cookie_name}={_value(canary, revision, 'canary')}"


def _new_primary_cookie(
    canary: Canary, affinity: SessionAffinity, revision: str | None
) -> str | None:
    if not affinity.primary_cookie_name:
        return None
    return f"{affinity.primary_cookie_name}={_value(canary, revision, 'primary')}"


def canary_cookie(canary: Canary, affinity: SessionAffinity) -> str:
    """`name=value` of the canary cookie of the analysis under way: the status's, or (the
    first time the weight rises, before the status is written) the one it will record."""
    status = canary.status
    return status.session_affinity_cookie or _new_canary_cookie(
        canary, affinity, status.last_applied_spec
    )


def primary_cookie(canary: Canary, affinity: SessionAffinity) -> str | None:
    """`name=value` of the primary cookie, with primaryCookieName; else None."""
    if not affinity.primary_cookie_name:
        return None
    status = canary.status
    return status.primary_session_affinity_cookie or _new_primary_cookie(
        canary, affinity, status.last_applied_spec
    )


def cookie_to_expire(canary: Canary) -> str | None:
    """At weight 0: the cookie of the analysis just ended (still in sessionAffinityCookie
    when the routes are set before the status is written), else the previous one."""
    status = canary.status
    return status.session_affinity_cookie or status.previous_session_affinity_cookie


def record_cookies(canary: Canary, status: CanaryStatus, canary_weight: int) -> CanaryStatus:
    """`status` once the routes are set to `canary_weight` (Flagger's SetRoutes): above 0
    the run's cookies are kept, or recorded for the revision under analysis; at 0 the
    canary cookie becomes the previous one and the run's cookies are cleared. A Canary
    without session affinity, or a TCP one (Flagger returns before the cookies), keeps
    its status as it is."""
    affinity = canary.spec.analysis.session_affinity
    tcp = (canary.spec.service.app_protocol or "").lower() == "tcp"
    if affinity is None or tcp:
        return status
    if canary_weight > 0:
        revision = status.last_applied_spec
        primary = None
        if affinity.primary_cookie_name:
            primary = status.primary_session_affinity_cookie or _new_primary_cookie(
                canary, affinity, revision
            )
        current = status.session_affinity_cookie or _new_canary_cookie(canary, affinity, revision)
        changes = {"session_affinity_cookie": current, "primary_session_affinity_cookie": primary}
    else:
        previous = status.session_affinity_cookie or status.previous_session_affinity_cookie
        changes = {
            "session_affinity_cookie": None,
            "primary_session_affinity_cookie": None,
            "previous_session_affinity_cookie": previous,
        }
    return status.model_copy(update=changes)


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
