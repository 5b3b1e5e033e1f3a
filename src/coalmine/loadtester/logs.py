"""One log line per task and gate change, in coalmine's log format (coalmine.logs).

The line names the canary in the `canary` and `namespace` fields (so `jq 'select(.canary
== "podinfo")'` finds everything about one rollout) and carries the task's details in
its message as `key=value` pairs with JSON values: `task finished type="cmd" exitCode=0`.
"""

from __future__ import annotations

import json
import logging

from coalmine.loadtester.payload import HookPayload

__all__ = ["log_event"]

log = logging.getLogger("coalmine.loadtester")


def log_event(
    event: str, about: HookPayload | None = None, *, level: int = logging.INFO, **fields: object
) -> None:
    """Log `event` about a canary's request; fields that are None are left out."""
    pairs = [(key, value) for key, value in fields.items() if value is not None]
    details = " ".join(f"{key}={json.dumps(value, default=str)}" for key, value in pairs)
    extra = {"canary": about.name, "namespace": about.namespace} if about else {}
    log.log(level, "%s", f"{event} {details}" if details else event, extra=extra)
