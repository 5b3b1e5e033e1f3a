"""Failure kinds for errors raised without a server (the rest are met in test_generator)."""

import errno

import aiohttp
import pytest

from coalmine.load import failure_kind


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (TimeoutError(), "timeout"),
        (aiohttp.ServerTimeoutError("read"), "timeout"),
        (aiohttp.ServerDisconnectedError(), "server_disconnected"),
        (aiohttp.ClientOSError(errno.ECONNRESET, "reset"), "connection_reset"),
        (ConnectionResetError(), "connection_reset"),
        (aiohttp.ClientPayloadError("short"), "bad_body"),
        (aiohttp.InvalidURL("x"), "invalid_url"),
        (ValueError("odd"), "ValueError"),
    ],
)
def test_errors_get_stable_short_names(error: Exception, kind: str) -> None:
    assert failure_kind(error) == kind
