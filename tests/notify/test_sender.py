import socket

import pytest

from coalmine.errors import AdapterError
from coalmine.notify import AlertSender
from coalmine.notify.sender import redact
from tests.fixtures.notify import Receiver


def test_redact_keeps_only_scheme_host_and_port() -> None:
    assert redact("https://hooks.slack.com/services/T0/B0/secret") == "https://hooks.slack.com/…"
    assert redact("http://127.0.0.1:8080/x?token=1") == "http://127.0.0.1:8080/…"
    assert redact("not a url") == "<unparsable URL>"
    assert redact("http://host:port/secret") == "<unparsable URL>"


async def test_a_failed_post_names_the_host_but_never_the_token(receiver: Receiver) -> None:
    sender = AlertSender(timeout=5, trust_env=False)
    url = receiver.url("/fail/T0/B0/secret-token")
    try:
        with pytest.raises(AdapterError) as error:
            await sender.post(url, {"text": "x"})
    finally:
        await sender.close()
    assert "HTTP 500" in str(error.value)
    assert "secret-token" not in str(error.value)
    assert receiver.base in str(error.value)


def _closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_refused_connection_is_an_adapter_error() -> None:
    sender = AlertSender(timeout=5, trust_env=False)
    url = f"http://127.0.0.1:{_closed_port()}/hook/secret-token"
    try:
        with pytest.raises(AdapterError) as error:
            await sender.post(url, {"text": "x"})
    finally:
        await sender.close()
    assert "secret-token" not in str(error.value)
