"""Which alerts a canary's alert subscription receives.

As Flagger documents it: a subscription at `info` receives every alert, at `warn`
receives warnings and errors (waiting for approval, a rollback), at `error` receives
errors only (a rollback).

Flagger's code (pkg/controller/events.go) does not quite do what its documentation
says: there a `warn` subscription misses errors and an `error` subscription also gets
warnings. coalmine follows the documentation, which is what users configure against.
"""

from __future__ import annotations

from coalmine.api.canary import AlertSeverity

__all__ = ["admits"]

_RANK = {AlertSeverity.INFO: 0, AlertSeverity.WARN: 1, AlertSeverity.ERROR: 2}


def admits(subscription: AlertSeverity, alert: AlertSeverity) -> bool:
    """True when an alert of severity `alert` goes to a subscription at `subscription`."""
    return _RANK[alert] >= _RANK[subscription]
