"""Secrets out of printed objects: provider addresses and tokens, unless asked for.

An AlertProvider's address is a credential (a Slack or Teams webhook URL carries its
token in the path), and a MetricTemplate's provider may carry headers with tokens and
an address with a user and password. `coalmine get -o json|yaml` prints objects through
`redact_object` unless `--show-secrets` is given; logs never print them at all
(`notify.sender.redact` keeps only scheme and host).
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

__all__ = ["HIDDEN", "redact_object", "redact_url"]

HIDDEN = "<hidden: use --show-secrets>"


def redact_url(url: str) -> str:
    """`https://user:pw@hooks.slack.com/services/T0/B0/x` -> `https://hooks.slack.com/<hidden…>`."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return HIDDEN
    if not parts.scheme or not parts.hostname:
        return HIDDEN
    return f"{parts.scheme}://{parts.hostname}{port}/{HIDDEN}"


def redact_object(kind: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """A copy of `manifest` with the secrets of its kind hidden; other kinds unchanged.
    A Secret keeps its keys, each value hidden (as `kubectl describe` shows keys only)."""
    if kind == "Secret":
        hidden_secret = copy.deepcopy(manifest)
        for key in ("data", "stringData"):
            if isinstance(hidden_secret.get(key), dict):
                hidden_secret[key] = dict.fromkeys(hidden_secret[key], HIDDEN)
        return hidden_secret
    if kind not in ("AlertProvider", "MetricTemplate"):
        return manifest
    hidden = copy.deepcopy(manifest)
    spec = hidden.get("spec")
    if not isinstance(spec, dict):
        return hidden
    if kind == "AlertProvider":
        for key in ("address", "proxy"):
            if isinstance(spec.get(key), str):
                spec[key] = redact_url(spec[key])
    provider = spec.get("provider") if kind == "MetricTemplate" else None
    if isinstance(provider, dict):
        if isinstance(provider.get("address"), str):
            provider["address"] = redact_url(provider["address"])
        if isinstance(provider.get("headers"), dict):
            provider["headers"] = dict.fromkeys(provider["headers"], HIDDEN)
    return hidden
