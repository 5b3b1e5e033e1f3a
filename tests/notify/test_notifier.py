"""AlertingNotifier against real HTTP receivers: routing, severity, failures, proxies."""

import logging
from pathlib import Path

import pytest

from coalmine.api.canary import AlertSeverity, CanaryStatus, Phase
from coalmine.engine.decision import Alert, Event, EventType
from coalmine.notify import LocalSecrets, global_provider
from coalmine.testing import RecordingNotifier
from tests.fixtures.notify import (
    ROLLBACK,
    ForwardProxy,
    Receiver,
    make_canary,
    make_notifier,
    make_provider,
    rolled_back,
    subscription,
)

INFO_ALERT = Alert(AlertSeverity.INFO, "New revision detected, progressing canary analysis.")
WARN_ALERT = Alert(AlertSeverity.WARN, "Canary is waiting for approval.")
PROGRESSING = CanaryStatus(phase=Phase.PROGRESSING)


async def test_events_and_alerts_reach_the_inner_notifier_unchanged(
    receiver: Receiver, secrets: LocalSecrets
) -> None:
    notifier = make_notifier([], secrets=secrets)
    canary = make_canary(status=PROGRESSING)
    event = Event("Advance podinfo.test canary weight 20", EventType.NORMAL)

    await notifier.event(canary, event)
    await notifier.alert(canary, INFO_ALERT)

    assert isinstance(notifier.inner, RecordingNotifier)
    assert notifier.inner.events == [event]
    assert notifier.inner.alerts == [INFO_ALERT]
    assert receiver.deliveries == []  # no alerts configured, no default provider
    await notifier.sender.close()


@pytest.mark.parametrize(
    ("alert", "expected_paths"),
    [
        (INFO_ALERT, ["/info"]),
        (WARN_ALERT, ["/info", "/warn"]),
        (ROLLBACK, ["/info", "/warn", "/error"]),
    ],
)
async def test_each_subscription_gets_alerts_its_severity_admits(
    receiver: Receiver, secrets: LocalSecrets, alert: Alert, expected_paths: list[str]
) -> None:
    providers = [
        make_provider(level, "webhook", receiver.url(f"/{level}"))
        for level in ("info", "warn", "error")
    ]
    alerts = [subscription(level, severity=level) for level in ("info", "warn", "error")]
    canary = make_canary(alerts=alerts, status=rolled_back())
    notifier = make_notifier(providers, secrets=secrets)

    await notifier.alert(canary, alert)
    await notifier.sender.close()

    assert sorted(d.path for d in receiver.deliveries) == sorted(expected_paths)
    assert all(d.body["message"] == alert.message for d in receiver.deliveries)


async def test_a_missing_provider_is_a_warning_naming_it_not_a_crash(
    receiver: Receiver, secrets: LocalSecrets, caplog: pytest.LogCaptureFixture
) -> None:
    present = make_provider("chat", "slack", receiver.url("/hook"))
    canary = make_canary(alerts=[subscription("gone"), subscription("chat")], status=rolled_back())
    notifier = make_notifier([present], secrets=secrets)

    with caplog.at_level(logging.WARNING, logger="coalmine.notify"):
        await notifier.alert(canary, ROLLBACK)
    await notifier.sender.close()

    assert notifier.stats.failed == {"gone.test": 1}
    assert notifier.stats.sent == {"chat.test": 1}
    assert len(receiver.bodies("/hook")) == 1
    [record] = [r for r in caplog.records if "gone.test" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "providerRef" in record.getMessage()
    assert (record.canary, record.namespace) == ("podinfo", "test")  # type: ignore[attr-defined]


async def test_a_provider_in_another_namespace_is_looked_up_there(
    receiver: Receiver, secrets: LocalSecrets
) -> None:
    canary = make_canary(
        alerts=[{"name": "x", "providerRef": {"name": "chat", "namespace": "ops"}}],
        status=rolled_back(),
    )
    notifier = make_notifier([make_provider("chat", "slack", receiver.url())], secrets=secrets)

    await notifier.alert(canary, ROLLBACK)
    await notifier.sender.close()

    assert notifier.stats.failed == {"chat.ops": 1}  # the provider lives in "test"
    assert receiver.deliveries == []


async def test_a_canary_without_alerts_uses_the_default_provider(
    receiver: Receiver, secrets: LocalSecrets
) -> None:
    default = global_provider("slack", receiver.url("/global"), channel="deploys")
    notifier = make_notifier([], secrets=secrets, default=default)

    await notifier.alert(make_canary(status=PROGRESSING), INFO_ALERT)
    await notifier.sender.close()

    [body] = receiver.bodies("/global")
    assert body["channel"] == "deploys"
    assert notifier.stats.sent == {"default": 1}


async def test_a_canary_with_alerts_does_not_use_the_default_provider(
    receiver: Receiver, secrets: LocalSecrets
) -> None:
    default = global_provider("slack", receiver.url("/global"))
    chat = make_provider("chat", "slack", receiver.url("/hook"))
    canary = make_canary(alerts=[subscription("chat", "error")], status=PROGRESSING)
    notifier = make_notifier([chat], secrets=secrets, default=default)

    await notifier.alert(canary, INFO_ALERT)  # filtered out by severity
    await notifier.sender.close()

    assert receiver.deliveries == []


async def test_a_provider_answering_500_is_counted_and_does_not_raise(
    receiver: Receiver, secrets: LocalSecrets
) -> None:
    providers = [
        make_provider("broken", "slack", receiver.url("/fail")),
        make_provider("chat", "msteams", receiver.url("/hook")),
    ]
    canary = make_canary(alerts=[subscription("broken"), subscription("chat")])
    notifier = make_notifier(providers, secrets=secrets)

    await notifier.alert(canary.with_status(rolled_back()), ROLLBACK)
    await notifier.sender.close()

    assert notifier.stats.failed == {"broken.test": 1}
    assert notifier.stats.sent == {"chat.test": 1}
    assert len(receiver.bodies("/fail")) == 1  # it was asked, and said no


async def test_a_provider_that_never_answers_times_out_and_is_counted(
    receiver: Receiver, secrets: LocalSecrets, caplog: pytest.LogCaptureFixture
) -> None:
    slow = make_provider("slow", "slack", receiver.url("/slow"))
    canary = make_canary(alerts=[subscription("slow")], status=rolled_back())
    notifier = make_notifier([slow], secrets=secrets, timeout=0.2)

    with caplog.at_level(logging.WARNING, logger="coalmine.notify"):
        await notifier.alert(canary, ROLLBACK)
    await notifier.sender.close()

    assert notifier.stats.failed == {"slow.test": 1}
    assert any("did not answer within 0.2s" in r.getMessage() for r in caplog.records)


async def test_a_missing_secret_is_counted_and_says_where_to_put_it(
    receiver: Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    provider = make_provider("chat", "slack", secretRef={"name": "on-call"})
    canary = make_canary(alerts=[subscription("chat")], status=rolled_back())
    notifier = make_notifier([provider], secrets=LocalSecrets(tmp_path, {}))

    with caplog.at_level(logging.WARNING, logger="coalmine.notify"):
        await notifier.alert(canary, ROLLBACK)
    await notifier.sender.close()

    assert notifier.stats.failed == {"chat.test": 1}
    assert any("COALMINE_SECRET_ON_CALL_ADDRESS" in r.getMessage() for r in caplog.records)


async def test_the_address_comes_from_the_local_secret(receiver: Receiver, tmp_path: Path) -> None:
    provider = make_provider("chat", "webhook", secretRef={"name": "on-call"})
    canary = make_canary(alerts=[subscription("chat")], status=rolled_back())
    environ = {"COALMINE_SECRET_ON_CALL_ADDRESS": receiver.url("/from-secret")}
    notifier = make_notifier([provider], secrets=LocalSecrets(tmp_path, environ))

    await notifier.alert(canary, ROLLBACK)
    await notifier.sender.close()

    assert len(receiver.bodies("/from-secret")) == 1


async def test_spec_proxy_routes_the_post_through_that_proxy(
    receiver: Receiver, forward_proxy: ForwardProxy, secrets: LocalSecrets
) -> None:
    proxied = make_provider("proxied", "slack", receiver.url("/proxied"), proxy=forward_proxy.base)
    direct = make_provider("direct", "slack", receiver.url("/direct"))
    canary = make_canary(alerts=[subscription("proxied"), subscription("direct")])
    notifier = make_notifier([proxied, direct], secrets=secrets)

    await notifier.alert(canary.with_status(rolled_back()), ROLLBACK)
    await notifier.sender.close()

    assert forward_proxy.forwarded == [receiver.url("/proxied")]
    assert len(receiver.bodies("/proxied")) == 1
    assert len(receiver.bodies("/direct")) == 1


async def test_a_proxy_written_without_scheme_is_taken_as_http(
    receiver: Receiver, forward_proxy: ForwardProxy, secrets: LocalSecrets
) -> None:
    host_port = forward_proxy.base.removeprefix("http://")
    proxied = make_provider("proxied", "webhook", receiver.url("/proxied"), proxy=host_port)
    canary = make_canary(alerts=[subscription("proxied")], status=rolled_back())
    notifier = make_notifier([proxied], secrets=secrets)

    await notifier.alert(canary, ROLLBACK)
    await notifier.sender.close()

    assert forward_proxy.forwarded == [receiver.url("/proxied")]
