"""The HTTP Hooks adapter against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from coalmine.api import Canary, CanaryWebhook, Phase
from coalmine.hooks import HttpHooks, checksum
from coalmine.hooks.http import loadtester_token
from tests.engine.builders import canary
from tests.fixtures.hooks import Answer, Receiver


def webhook(url: str, **fields: object) -> CanaryWebhook:
    return CanaryWebhook.model_validate({"name": "check", "type": "rollout", "url": url, **fields})


def rolling_out() -> Canary:
    c = canary(name="podinfo", namespace="test")
    return c.with_status(c.status.model_copy(update={"last_applied_spec": "5d8f7b9c4"}))


async def test_posts_flaggers_payload_as_go_encodes_it(
    hook_endpoint: Receiver, http_hooks: HttpHooks
) -> None:
    c = rolling_out()
    hook = webhook(
        hook_endpoint.url("/hook"), metadata={"type": "cmd", "cmd": "hey -z 1m http://x/?a=1&b=2"}
    )
    result = await http_hooks.call(c, hook, Phase.PROGRESSING)
    assert result.ok
    [call] = hook_endpoint.calls
    assert call.body == (
        b'{"name":"podinfo","namespace":"test","phase":"Progressing",'
        b'"checksum":"' + checksum(c).encode() + b'",'
        b'"metadata":{"cmd":"hey -z 1m http://x/?a=1\\u0026b=2","type":"cmd"}}'
    )
    assert call.headers["Content-Type"] == "application/json"


async def test_no_metadata_leaves_the_field_out(
    hook_endpoint: Receiver, http_hooks: HttpHooks
) -> None:
    await http_hooks.call(rolling_out(), webhook(hook_endpoint.url("/hook")), Phase.SUCCEEDED)
    assert list(hook_endpoint.calls[0].json) == ["name", "namespace", "phase", "checksum"]
    assert hook_endpoint.calls[0].json["phase"] == "Succeeded"


@pytest.mark.parametrize(
    ("status", "text", "ok", "message"),
    [
        (200, "", True, "HTTP 200"),
        (202, "queued", True, "HTTP 202: queued"),
        (204, "", False, "HTTP 204"),  # Flagger: anything above 202 fails
        (403, "Forbidden", False, "HTTP 403: Forbidden"),
        (500, "database\n  down", False, "HTTP 500: database down"),
    ],
)
async def test_status_202_or_lower_passes_anything_else_fails_with_the_body(
    hook_endpoint: Receiver, http_hooks: HttpHooks, status: int, text: str, ok: bool, message: str
) -> None:
    hook_endpoint.answer("/hook", Answer(status, text))
    result = await http_hooks.call(
        rolling_out(), webhook(hook_endpoint.url("/hook")), Phase.PROGRESSING
    )
    assert (result.ok, result.message) == (ok, message)


async def test_a_long_body_is_cut_keeping_its_start_and_end(
    hook_endpoint: Receiver, http_hooks: HttpHooks
) -> None:
    hook_endpoint.answer("/hook", Answer(400, "first line\n" + "x" * 5000 + "\nthe real error"))
    result = await http_hooks.call(
        rolling_out(), webhook(hook_endpoint.url("/hook")), Phase.PROGRESSING
    )
    assert len(result.message) < 520
    assert result.message.startswith("HTTP 400: first line x")
    assert result.message.endswith("x the real error")


async def test_a_timeout_fails_naming_it(hook_endpoint: Receiver, http_hooks: HttpHooks) -> None:
    hook_endpoint.answer("/slow", Answer(delay=2))
    hook = webhook(hook_endpoint.url("/slow"), timeout="200ms")
    result = await http_hooks.call(rolling_out(), hook, Phase.PROGRESSING)
    assert not result.ok
    assert result.message == f"no answer from {hook_endpoint.url('/slow')} within 0.2s (timeout)"


async def test_an_unreachable_receiver_fails_naming_it(http_hooks: HttpHooks) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{free.getsockname()[1]}/"
    result = await http_hooks.call(rolling_out(), webhook(url, retries=1), Phase.PROGRESSING)
    assert not result.ok
    assert result.message.startswith(f"cannot reach {url}: ")
    assert result.message.endswith("(after 2 attempts)")


async def test_retries_server_errors_but_not_answers(
    hook_endpoint: Receiver, http_hooks: HttpHooks
) -> None:
    hook_endpoint.answer("/flaky", Answer(503), Answer(500), Answer(200, "fine"))
    hook_endpoint.answer("/closed", Answer(403, "Forbidden"))
    flaky = await http_hooks.call(
        rolling_out(), webhook(hook_endpoint.url("/flaky"), retries=2), Phase.PROGRESSING
    )
    closed = await http_hooks.call(
        rolling_out(), webhook(hook_endpoint.url("/closed"), retries=2), Phase.PROGRESSING
    )
    assert (flaky.ok, flaky.message) == (True, "HTTP 200: fine")
    assert (closed.ok, closed.message) == (False, "HTTP 403: Forbidden")
    assert hook_endpoint.paths() == ["/flaky"] * 3 + ["/closed"]


def test_the_load_tester_token_goes_to_load_testers_only() -> None:
    token_for = loadtester_token("s3cret")
    assert token_for("http://loadtester.coalmine/") == "s3cret"
    assert token_for("http://flagger-loadtester.test.svc.cluster.local:80/gate/check") == "s3cret"
    assert token_for("https://hooks.slack.com/services/x") is None
    assert token_for("http://loadtester-evil.example/") is None
    assert loadtester_token(None)("http://loadtester.coalmine/") is None


async def test_the_token_is_sent_as_a_bearer_header(hook_endpoint: Receiver) -> None:
    hooks = HttpHooks(token_for=lambda url: "s3cret" if "/token" in url else None)
    try:
        await hooks.post(f"{hook_endpoint.base_url}/token", {}, timeout_seconds=5)
        await hooks.post(f"{hook_endpoint.base_url}/other", {}, timeout_seconds=5)
    finally:
        await hooks.close()
    sent = [call.headers.get("Authorization") for call in hook_endpoint.calls]
    assert sent == ["Bearer s3cret", None]


async def test_disable_tls_calls_a_self_signed_https_webhook(
    https_hook_endpoint: Receiver, http_hooks: HttpHooks
) -> None:
    url = https_hook_endpoint.url("/hook")
    verified = await http_hooks.call(rolling_out(), webhook(url), Phase.PROGRESSING)
    assert not verified.ok
    assert "certificate" in verified.message.lower()
    unverified = webhook(url, disableTLS=True)
    assert (await http_hooks.call(rolling_out(), unverified, Phase.PROGRESSING)).ok
    assert https_hook_endpoint.paths() == ["/hook"]
