"""Name why a request got no answer, in words a person debugging a rollout would use."""

from __future__ import annotations

import errno

import aiohttp

__all__ = ["failure_kind"]


def failure_kind(error: Exception) -> str:
    """A short stable key for the cause: timeout, connection_refused, connection_reset, ..."""
    if isinstance(error, TimeoutError):  # aiohttp's timeouts are TimeoutError subclasses
        return "timeout"
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return "dns"
    if isinstance(error, aiohttp.ClientConnectorError):
        refused = isinstance(error.os_error, ConnectionRefusedError)
        return "connection_refused" if refused else "connect"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "server_disconnected"
    if isinstance(error, ConnectionResetError) or (
        isinstance(error, OSError) and error.errno == errno.ECONNRESET
    ):
        return "connection_reset"
    if isinstance(error, aiohttp.ClientPayloadError):
        return "bad_body"
    if isinstance(error, aiohttp.ClientResponseError):
        return "bad_response"
    if isinstance(error, aiohttp.InvalidURL):
        return "invalid_url"
    return type(error).__name__
