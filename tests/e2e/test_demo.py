"""The README's first command: the whole workshop scenario, exactly as a user runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_the_demo_gives_every_expected_verdict() -> None:
    done = subprocess.run(
        # 2 s ticks, as `demo --strategy` and guide chapter 6: the same verdicts, a third sooner
        [sys.executable, "-m", "coalmine", "demo", "--interval", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    out = done.stdout
    assert "5 of 5 verdicts as expected" in out
    for line in (
        "Advance go-demo-7.go-demo-7 canary weight 60",
        "Rolling back go-demo-7.go-demo-7 failed checks threshold reached 3",
        "-- 0.0.3: Failed (as expected)",
        "-- 0.0.4: Failed (as expected)",
        "-- 0.0.5: Succeeded (as expected)",
    ):
        assert line in out, out
    assert "request-duration" in out.split("== 0.0.4")[1].split("== 0.0.5")[0]
