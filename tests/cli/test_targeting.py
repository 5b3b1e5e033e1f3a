"""Opening the target of a waiting command: ride a restart, but not a target that is not there."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from coalmine.cli.targeting import run_on_target
from coalmine.errors import Unavailable
from coalmine.targets import select
from coalmine.targets.base import Target
from coalmine.targets.select import TargetOptions

DEAD_PID = 2**22 + 12345
"""Above pid_max: never alive."""


@pytest.fixture
def no_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return tmp_path


def publish(state: Path, pid: int) -> None:
    state.mkdir(exist_ok=True)
    (state / "api.json").write_text(json.dumps({"url": "http://x", "token": "t", "pid": pid}))


async def describe(target: Target) -> str:
    return target.description


def test_nothing_to_reach_ends_at_once_naming_both_flags(
    no_cluster: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped --state-dir and no kubeconfig: one look, not a minute of retries."""
    looks = []
    found = select._kubeconfig_found
    monkeypatch.setattr(select, "_kubeconfig_found", lambda: looks.append(1) or found())
    options = TargetOptions(state_dir=no_cluster / "typo")
    with pytest.raises(Unavailable) as raised:
        run_on_target(options, describe, grace=60.0)
    assert len(looks) == 1, "the rule was retried: nothing could have come of it"
    message = str(raised.value)
    assert f"no coalmine up is running for state directory {no_cluster / 'typo'}" in message
    assert "--state-dir" in message and "--kubeconfig PATH" in message


def test_a_restarting_up_is_waited_for(no_cluster: Path) -> None:
    """Its api.json names a pid that is gone: the new `coalmine up` is waited for."""
    state = no_cluster / "state"
    publish(state, DEAD_PID)
    back = threading.Timer(0.5, publish, (state, os.getpid()))
    back.start()
    try:
        said = run_on_target(TargetOptions(state_dir=state), describe, grace=30.0)
    finally:
        back.cancel()
    assert said == f"the local runtime (state directory {state})"


def test_a_restart_that_outlasts_the_grace_is_unreadable(no_cluster: Path) -> None:
    state = no_cluster / "state"
    publish(state, DEAD_PID)
    with pytest.raises(Unavailable, match="no coalmine up is running for state directory"):
        run_on_target(TargetOptions(state_dir=state), describe, grace=0.3)
