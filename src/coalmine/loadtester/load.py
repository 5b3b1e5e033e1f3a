"""The `load` task's metadata: from a webhook's strings to a `coalmine.load` plan.

The load itself is `coalmine.load` (open loop: request i leaves at i/rate seconds
whatever the earlier ones are doing). This module only reads what a Canary author
writes in `metadata`, and says which field to fix when it cannot.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from coalmine.api.common import parse_duration
from coalmine.errors import CoalmineError
from coalmine.load import LoadPlan

__all__ = ["MAX_RPS", "METHODS", "plan_from_metadata"]

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_RPS = 10_000.0
"""More than one Python process can send; use a dedicated tool (wrk) beyond it."""


def plan_from_metadata(metadata: Mapping[str, str]) -> LoadPlan:
    """The plan a webhook's metadata asks for; ValueError naming the field otherwise."""
    url = metadata.get("url", "")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ValueError(f"metadata.url must be an http(s) URL, got {url!r}")
    method = metadata.get("method", "GET").upper()
    if method not in METHODS:
        raise ValueError(f"metadata.method must be one of {', '.join(METHODS)}, got {method!r}")
    try:
        return LoadPlan(
            urls=(url,),
            rate=_rate(metadata.get("rps", "")),
            duration=_duration(metadata.get("duration", "")),
            method=method,
            headers=_headers(metadata.get("headers", "")),
        )
    except CoalmineError as error:
        raise ValueError(f"metadata: {error}") from None


def _rate(text: str) -> float:
    try:
        rps = float(text)
    except ValueError:
        raise ValueError(
            f"metadata.rps must be a number of requests per second, got {text!r}"
        ) from None
    if not 0 < rps <= MAX_RPS:
        raise ValueError(f"metadata.rps must be above 0 and at most {MAX_RPS:g}, got {text!r}")
    return rps


def _duration(text: str) -> float:
    if not text:
        raise ValueError('metadata.duration is required, for example "1m"')
    try:
        seconds = parse_duration(text).total_seconds()
    except ValueError as error:
        raise ValueError(f"metadata.duration {error}") from None
    if seconds <= 0:
        raise ValueError(f"metadata.duration must be above 0, got {text!r}")
    return seconds


def _headers(text: str) -> dict[str, str]:
    """One `Name: value` per line, as curl -H takes them."""
    headers = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"metadata.headers: write one 'Name: value' per line, got {line!r}")
        headers[name.strip()] = value.strip()
    return headers
