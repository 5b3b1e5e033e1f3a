from datetime import UTC, datetime, timedelta

from coalmine.api import CanaryStatus, Phase
from coalmine.engine.status import to_phase

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_promoted_condition_follows_the_phase() -> None:
    status = to_phase(CanaryStatus(), Phase.INITIALIZING, T0)
    assert status.promoted is not None
    assert (status.promoted.status, status.promoted.reason) == ("Unknown", "Initializing")
    assert status.promoted.message == "New Deployment detected, starting initialization."
    failed = to_phase(status, Phase.FAILED, T0 + timedelta(minutes=5))
    assert failed.promoted is not None
    assert failed.promoted.status == "False"
    assert failed.promoted.message == "Canary analysis failed, Deployment promotion failed."
    assert len(failed.conditions) == 1


def test_transition_time_moves_only_when_the_phase_changes() -> None:
    progressing = to_phase(CanaryStatus(), Phase.PROGRESSING, T0)
    later = to_phase(progressing, Phase.PROGRESSING, T0 + timedelta(minutes=1), canary_weight=20)
    assert later.last_transition_time == T0
    assert later.canary_weight == 20


def test_condition_keeps_its_transition_time_while_its_status_stays() -> None:
    progressing = to_phase(CanaryStatus(), Phase.PROGRESSING, T0)
    promoting = to_phase(progressing, Phase.PROMOTING, T0 + timedelta(minutes=3))
    assert promoting.promoted is not None
    assert promoting.promoted.reason == "Promoting"
    assert promoting.promoted.last_transition_time == T0  # Unknown -> Unknown


def test_succeeding_records_the_analysed_revision_as_promoted() -> None:
    status = CanaryStatus(phase=Phase.FINALISING, last_applied_spec="b", last_promoted_spec="a")
    assert to_phase(status, Phase.SUCCEEDED, T0).last_promoted_spec == "b"
    assert to_phase(status, Phase.FAILED, T0).last_promoted_spec == "a"
