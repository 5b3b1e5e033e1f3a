"""Addresses coalmine connects to on a user's behalf: http or https, with a host.

A MetricTemplate's `provider.address` or an AlertProvider's `address` is a URL coalmine
fetches or posts to. Anything else (`file:///etc/passwd`, `ftp://`, a bare path) is
refused when the manifest is read, not when the first query fails.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["WEB_SCHEMES", "web_address"]

WEB_SCHEMES = ("http", "https")


def web_address(value: str | None) -> str | None:
    """`value` unchanged when it is an http(s) URL with a host; ValueError naming the fix."""
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as error:
        raise ValueError(f"not a URL ({error}); give http(s)://host[:port]") from None
    if parts.scheme not in WEB_SCHEMES:
        shown = f"{parts.scheme}://" if parts.scheme else "none"
        raise ValueError(f"scheme must be http or https, got {shown}; give http(s)://host[:port]")
    if not host:
        raise ValueError("the URL has no host; give http(s)://host[:port]")
    return value
