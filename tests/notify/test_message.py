from datetime import timedelta

from coalmine.api.canary import AlertSeverity, CanaryStatus, Phase, ThresholdRange
from coalmine.engine.decision import Alert, CheckResult
from coalmine.notify import Fact, build_message
from coalmine.notify.message import describe_check, format_duration
from tests.fixtures.notify import NOW, ROLLBACK, make_canary, rolled_back


def facts(items: tuple[Fact, ...]) -> dict[str, str]:
    return {fact.name: fact.value for fact in items}


def test_a_rollback_names_the_check_its_value_range_and_the_analysis_time() -> None:
    canary = make_canary(status=rolled_back(analysis_minutes=4.5))

    message = build_message(canary, ROLLBACK, NOW)

    assert message.subject == "podinfo.test"
    assert message.phase == "Failed"
    assert facts(message.facts) == {
        "Phase": "Failed",
        "Failed check": "request-success-rate 80.00, allowed >= 99",
        "Analysis duration": "4m30s",
        "Target": "Deployment/podinfo.test",
    }
    assert "request-success-rate 80.00, allowed >= 99" in message.summary


def test_a_start_alert_has_the_analysis_settings_and_no_duration() -> None:
    status = CanaryStatus(phase=Phase.PROGRESSING, analysis_start_time=NOW)
    canary = make_canary(status=status, threshold=5)
    alert = Alert(AlertSeverity.INFO, "New revision detected, progressing canary analysis.")

    message = build_message(canary, alert, NOW + timedelta(minutes=1))

    assert message.analysis_duration is None
    assert facts(message.facts) == {
        "Phase": "Progressing",
        "Target": "Deployment/podinfo.test",
        "Failed checks threshold": "5",
        "Progress deadline": "60s",
        "Traffic routing": "Weight step: 20 max: 60",
    }


def test_a_check_without_data_says_why() -> None:
    check = CheckResult(
        "request-duration", None, ThresholdRange(max=500), False, reason="no series"
    )
    assert describe_check(check) == "request-duration: no data (no series), allowed <= 500"


def test_durations_read_as_in_a_canary() -> None:
    assert format_duration(timedelta(seconds=45)) == "45s"
    assert format_duration(timedelta(minutes=3)) == "3m0s"
    assert format_duration(timedelta(hours=1, minutes=2, seconds=5)) == "1h2m5s"
