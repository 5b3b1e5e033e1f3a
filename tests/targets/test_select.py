"""Which target a command talks to."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from coalmine.errors import Unavailable
from coalmine.targets.select import TargetOptions, choose


@pytest.fixture
def no_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return tmp_path


def running_up(state: Path, pid: int) -> Path:
    state.mkdir(exist_ok=True)
    (state / "api.json").write_text(json.dumps({"url": "http://x", "token": "t", "pid": pid}))
    return state


def test_a_running_up_is_local(no_cluster: Path) -> None:
    state = running_up(no_cluster / "state", os.getpid())
    assert choose(TargetOptions(state_dir=state)) == "local"


def test_flags_name_a_cluster_even_with_a_running_up(no_cluster: Path) -> None:
    state = running_up(no_cluster / "state", os.getpid())
    assert choose(TargetOptions(state_dir=state, context="prod")) == "kubernetes"
    assert choose(TargetOptions(state_dir=state, kubeconfig=Path("k"))) == "kubernetes"


def test_a_dead_up_does_not_count_and_a_kubeconfig_takes_over(
    no_cluster: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = running_up(no_cluster / "state", 2**22 + 12345)  # above pid_max: never alive
    kubeconfig = no_cluster / "config"
    kubeconfig.write_text("apiVersion: v1\n")
    monkeypatch.setenv("KUBECONFIG", f"{no_cluster / 'absent'}{os.pathsep}{kubeconfig}")
    assert choose(TargetOptions(state_dir=state)) == "kubernetes"


def test_nothing_found_says_both_fixes(no_cluster: Path) -> None:
    with pytest.raises(Unavailable) as raised:
        choose(TargetOptions(state_dir=no_cluster / "state"))
    message = str(raised.value)
    assert raised.value.exit_code == 3
    assert f"coalmine up --state-dir {no_cluster / 'state'}" in message
    assert "--kubeconfig PATH, --context NAME or the KUBECONFIG environment variable" in message
