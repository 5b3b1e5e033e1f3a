"""Flagger's session affinity, as the engine records it in the status.

The status carries the cookies with Flagger's meaning (`pkg/router/istio.go` SetRoutes):
`sessionAffinityCookie` (and `primarySessionAffinityCookie`) while the weight is above 0;
when it returns to 0 the canary cookie moves to `previousSessionAffinityCookie`, the one
the routers expire. The engine records them whenever it sets routes (`record_cookies`);
the routers read them from the status (`coalmine.routing.session_affinity`).

Flagger draws a random cookie value; coalmine derives it from the Canary's uid and the
revision under analysis (`status.lastAppliedSpec`), so a tick whose status write failed
and is repeated, or another replica of the controller, sets the same value, and the next
revision gets a new one. The value is ten letters, as Flagger's. The derivation lives
here, in the engine, because the status is the engine's; the routers derive the same
value through `new_canary_cookie` before the first status with it is written.
"""

from __future__ import annotations

import hashlib
import string

from coalmine.api.canary import Canary, CanaryStatus, SessionAffinity

__all__ = ["new_canary_cookie", "new_primary_cookie", "record_cookies"]

_LETTERS = string.ascii_letters


def _value(canary: Canary, revision: str | None, role: str) -> str:
    seed = f"{canary.metadata.uid or canary.key}/{revision or ''}/{role}".encode()
    digest = hashlib.sha256(seed).digest()
    return "".join(_LETTERS[byte % len(_LETTERS)] for byte in digest[:10])


def new_canary_cookie(canary: Canary, affinity: SessionAffinity, revision: str | None) -> str:
    """`name=value` of the canary cookie of `revision`'s analysis."""
    return f"{affinity.cookie_name}={_value(canary, revision, 'canary')}"


def new_primary_cookie(
    canary: Canary, affinity: SessionAffinity, revision: str | None
) -> str | None:
    """`name=value` of the primary cookie of `revision`'s analysis; None without
    primaryCookieName."""
    if not affinity.primary_cookie_name:
        return None
    return f"{affinity.primary_cookie_name}={_value(canary, revision, 'primary')}"


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
            primary = status.primary_session_affinity_cookie or new_primary_cookie(
                canary, affinity, revision
            )
        current = status.session_affinity_cookie or new_canary_cookie(canary, affinity, revision)
        changes = {"session_affinity_cookie": current, "primary_session_affinity_cookie": primary}
    else:
        previous = status.session_affinity_cookie or status.previous_session_affinity_cookie
        changes = {
            "session_affinity_cookie": None,
            "primary_session_affinity_cookie": None,
            "previous_session_affinity_cookie": previous,
        }
    return status.model_copy(update=changes)
