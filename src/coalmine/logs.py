"""Structured logging: JSON lines for machines, one readable line for people.

Every line about a canary carries `canary` and `namespace` (the engine logs with
`extra={"canary": ..., "namespace": ...}`; `canary_logger` adds them for you), so that
`jq 'select(.canary == "podinfo")'` finds everything about one rollout.

Nothing happens at import: a program calls `configure_logging` once at start-up.
Standard library only (and coalmine.errors), so that the engine may use `canary_logger`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

from coalmine.errors import CoalmineError

__all__ = [
    "CANARY_FIELDS",
    "CanaryLogger",
    "JsonFormatter",
    "PlainFormatter",
    "canary_logger",
    "configure_logging",
]

CANARY_FIELDS = ("canary", "namespace")
"""Record attributes copied into every line that has them."""

_OWN_HANDLER = "_coalmine_handler"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, canary, namespace, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _iso_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CANARY_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    """`2026-01-01 12:00:00,000 WARNING coalmine.notify [podinfo.test] message`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(where)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        canary = getattr(record, "canary", None)
        namespace = getattr(record, "namespace", None)
        if canary is not None:
            record.where = f" [{canary}.{namespace}]" if namespace is not None else f" [{canary}]"
        else:
            record.where = ""
        return super().format(record)


def configure_logging(
    level: int | str = logging.INFO, *, json_lines: bool = False, stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record at `level` or above to `stream` (stderr), as JSON or plain text.

    Calling it again replaces the handler it installed before (and only that one), so
    a test or a CLI flag can switch formats without duplicating lines.
    """
    threshold = _level(level)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OWN_HANDLER, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else PlainFormatter())
    setattr(handler, _OWN_HANDLER, True)
    root.addHandler(handler)
    root.setLevel(threshold)
    return handler


class CanaryLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger whose every record names one canary; a call's own `extra` is kept too."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


def canary_logger(logger: logging.Logger, name: str, namespace: str) -> CanaryLogger:
    """`canary_logger(log, canary.name, canary.namespace).warning(...)`."""
    return CanaryLogger(logger, {"canary": name, "namespace": namespace})


def _iso_time(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


def _level(level: int | str) -> int:
    if isinstance(level, int):
        return level
    number = logging.getLevelNamesMapping().get(level.upper())
    if number is None:
        valid = "debug, info, warning, error, critical"
        raise CoalmineError(f"unknown log level {level!r}; use one of {valid}")
    return number
