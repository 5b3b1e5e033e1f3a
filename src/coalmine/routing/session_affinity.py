"""Flagger's session affinity cookies: who gets which cookie and how a request carrying
one is recognised.

During an analysis (canary weight above 0) responses from the canary set the canary
cookie, and requests carrying it go to the canary whatever the weights; with
`primaryCookieName`, responses from the primary set the primary cookie and requests
carrying it stay on the primary. Once the weight is back at 0 (promoted or rolled back),
requests carrying the last analysis's canary cookie get it expired (`Max-Age=-1`).

Flagger draws a random cookie value and keeps it in the status; coalmine derives it from
the Canary's uid and the revision under analysis (`status.lastAppliedSpec`), so every
tick, and every replica of the controller, writes the same value without storing it, and
the next revision gets a new one. The value is ten letters, as Flagger's.
"""

from __future__ import annotations

import hashlib
import string

from coalmine.api.canary import Canary, SessionAffinity

__all__ = [
    "STICKY_ROUTE",
    "canary_cookie",
    "cookie_match",
    "expired",
    "primary_cookie",
    "set_cookie",
]

STICKY_ROUTE = "sticky-route"
"""Name of the routes that send a cookie's holders to one side (Flagger's name)."""

_LETTERS = string.ascii_letters


def _value(canary: Canary, role: str) -> str:
    revision = canary.status.last_applied_spec or ""
    seed = f"{canary.metadata.uid or canary.key}/{revision}/{role}".encode()
    digest = hashlib.sha256(seed).digest()
    return "".join(_LETTERS[byte % len(_LETTERS)] for byte in digest[:10])


def canary_cookie(canary: Canary, affinity: SessionAffinity) -> str:
    """`name=value` of the canary cookie of the revision under analysis."""
    return f"{affinity.cookie_name}={_value(canary, 'canary')}"


def primary_cookie(canary: Canary, affinity: SessionAffinity) -> str | None:
    """`name=value` of the primary cookie, with primaryCookieName; else None."""
    if not affinity.primary_cookie_name:
        return None
    return f"{affinity.primary_cookie_name}={_value(canary, 'primary')}"


def set_cookie(cookie: str, affinity: SessionAffinity) -> str:
    """The Set-Cookie header value: the cookie with maxAge and the attributes given."""
    parts = [cookie, f"Max-Age={affinity.max_age_seconds}"]
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
