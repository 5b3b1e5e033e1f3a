"""`coalmine demo --strategy all` as a user runs it: real Envoy, real replicas, real load;
the printed table must show canary < rolling < big-bang in failed requests, and the
exit code must agree."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

ROW = re.compile(
    r"^(big-bang|rolling|canary) +(\d+) +(\d+) +([\d.]+)s +(\d+) +([\d.]+)s"
    r" +\+([\d.]+)s +\+([\d.]+)s$",
    re.MULTILINE,
)


def test_all_three_strategies_measured_in_the_expected_order() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "coalmine", "demo", "--strategy", "all"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out[-6000:] + done.stderr[-4000:]
    assert "strategy  failed  requests  failing for  answered by 0.0.2" in out
    rows = {match[0]: match[1:] for match in ROW.findall(out)}
    assert list(rows) == ["big-bang", "rolling", "canary"], out
    failed = {name: int(row[0]) for name, row in rows.items()}
    assert failed["canary"] < failed["rolling"] < failed["big-bang"], out
    assert f"as expected: canary ({failed['canary']}) < rolling ({failed['rolling']})" in out
    for name, (failures, _, _, answered, served, found, undone) in rows.items():
        # Every failure came from the faulty release, which fails about half its requests.
        assert 0 < int(failures) <= int(answered), (name, out)
        assert float(found) <= float(undone) + 0.1, (name, out)
        assert float(served) <= float(undone) + 1.0, (name, out)
    big_bang, rolling = rows["big-bang"], rows["rolling"]
    # Rolled back by hand after the same delay, 10 s after the first failure...
    assert 9.5 <= float(big_bang[5]) <= 15 and 9.5 <= float(rolling[5]) <= 20, out
    # ... but rolling took longer to undo: it replaces replicas one by one both ways.
    assert float(rolling[6]) > float(big_bang[6]) + 2, out
    assert "request-success-rate" in out.split("canary    found:")[1], out
    assert "Rolling back go-demo-7.canary failed checks threshold reached 3" in out
