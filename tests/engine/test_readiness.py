from datetime import UTC, datetime, timedelta

import pytest

from coalmine.engine import WorkloadState
from coalmine.engine.readiness import judge_readiness

NOW = datetime(2026, 3, 1, tzinfo=UTC)
DEADLINE = timedelta(seconds=60)


def judge(state: WorkloadState, threshold: int = 100) -> tuple[bool, str, bool]:
    r = judge_readiness("app.test", state, ready_threshold=threshold, deadline=DEADLINE, now=NOW)
    return r.ready, r.message, r.deadline_exceeded


def test_all_updated_and_available_is_ready() -> None:
    assert judge(WorkloadState("r", replicas=3, updated=3, available=3)) == (True, "", False)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            WorkloadState("r", replicas=3, updated=1, available=1),
            "waiting for rollout to finish: 1 out of 3 new replicas have been updated",
        ),
        (
            WorkloadState("r", replicas=3, updated=3, available=3, total=5),
            "waiting for rollout to finish: 2 old replicas are pending termination",
        ),
        (
            WorkloadState("r", replicas=3, updated=3, available=2),
            "waiting for rollout to finish: 2 of 3 updated replicas are available",
        ),
        (
            WorkloadState("r", replicas=3, updated=3, available=3, settled=False),
            "waiting for rollout to finish: observed deployment generation less than desired",
        ),
        (
            WorkloadState("r", replicas=0, updated=0, available=0),
            "halt advancement: app.test is scaled to zero",
        ),
    ],
)
def test_why_not_ready(state: WorkloadState, message: str) -> None:
    assert judge(state) == (False, message, False)


def test_ready_threshold_lowers_what_must_be_available() -> None:
    half = WorkloadState("r", replicas=4, updated=4, available=2)
    assert judge(half, threshold=50)[0] is True
    assert judge(half, threshold=75)[0] is False


def test_unavailable_longer_than_the_deadline_is_final() -> None:
    since = NOW - DEADLINE - timedelta(seconds=1)
    state = WorkloadState("r", replicas=2, updated=2, available=0, unavailable_since=since)
    ready, message, exceeded = judge(state)
    assert (ready, exceeded) == (False, True)
    assert message.endswith("unavailable for longer than the progress deadline of 0:01:00")
    recent = WorkloadState("r", replicas=2, updated=2, available=0, unavailable_since=NOW)
    assert judge(recent)[2] is False


def test_the_platform_declaring_the_deadline_is_final() -> None:
    stuck = WorkloadState("r", replicas=2, updated=1, available=0, deadline_exceeded=True)
    assert judge(stuck) == (False, 'deployment "app.test" exceeded its progress deadline', True)
