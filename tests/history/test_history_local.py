"""The history of a real local analysis, read through `coalmine up`'s API as the CLI does."""

from __future__ import annotations

import asyncio

import pytest

from coalmine.history.reading import read_history
from coalmine.local.runtime import LocalRuntime
from coalmine.targets.local import LocalTarget
from tests.fixtures.analysis import promote_then_roll_back
from tests.fixtures.local import NAMESPACE

pytestmark = pytest.mark.slow


async def test_the_history_has_every_step_check_primary_and_verdict(
    local_runtime: LocalRuntime,
) -> None:
    await promote_then_roll_back(local_runtime)
    await local_runtime.sampler.close()
    target = LocalTarget(local_runtime.settings.state_dir, NAMESPACE)
    # The target's calls block (urllib), as in the CLI: off the loop that serves them.
    history = await asyncio.to_thread(asyncio.run, read_history(target, NAMESPACE, "go-demo-7"))

    first, promoted, rolled_back = history.revisions
    assert first.verdict == "Initialized"
    assert promoted.verdict == "Succeeded" and rolled_back.verdict == "Failed"
    assert promoted.revision != rolled_back.revision
    assert {20, 40, 60} <= {w.weight for w in history.only(promoted).weights}
    assert promoted.max_weight == 60 and promoted.seconds > 0
    assert promoted.requests and promoted.requests > 50 and promoted.errors == 0
    assert rolled_back.requests and rolled_back.errors and rolled_back.errors > 0

    success = next(m for m in history.metrics if m.name == "request-success-rate")
    assert (success.min, success.max) == (99, None)
    good = history.only(promoted).metrics[0]
    assert good.canary and all(c.passed for c in good.canary)
    assert good.primary and all(p.value is not None for p in good.primary)
    bad = history.only(rolled_back).metrics[0]
    assert any(not c.passed and c.value is not None and c.value < 99 for c in bad.canary)
    assert "rolled back" in history.why(rolled_back)
    assert "request-success-rate failed" in history.why(rolled_back)
    assert history.why(promoted).startswith("promoted after 20%, 40%, 60%")
    assert any("Rolling back" in e.message for e in history.only(rolled_back).events)
    assert history.revision(promoted.revision[:8]) == promoted
