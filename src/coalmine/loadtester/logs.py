"""One JSON object per line for everything the load tester does, for `kubectl logs | jq`."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

__all__ = ["log_event"]

log = logging.getLogger("coalmine.loadtester")


def log_event(event: str, *, level: int = logging.INFO, **fields: object) -> None:
    """Log `event` with its fields as one JSON line (fields that are None are left out)."""
    record: dict[str, object] = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "event": event,
    }
    record.update({key: value for key, value in fields.items() if value is not None})
    log.log(level, "%s", json.dumps(record, default=str))
