"""The stats collector's samples on disk, so that a restarted `coalmine up` keeps its windows.

Envoy outlives `coalmine up`, and so do its counters; the samples taken from them would
not, and a canary resumed right after a restart would find "not enough samples in the
window" and count a failed check that has nothing to do with the release. So every
sample is appended to `<state-dir>/envoy/stats-history.jsonl` with the identity of the
Envoy it came from (pid and start time), and a collector that starts on the same Envoy
(an adopted one) reads them back: its windows reach back across the restart. Samples of
another Envoy are ignored (its counters started from zero). Times are CLOCK_MONOTONIC,
which every process on the machine shares until the next boot (and then Envoy is gone).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from coalmine.metrics.providers.envoy.stats import ClusterCounters, Histogram, Sample

__all__ = ["SampleHistory"]

Identity = tuple[int, int | None]
"""(pid, start time in clock ticks) of the Envoy the samples come from."""


class SampleHistory:
    def __init__(self, path: Path, keep: int) -> None:
        self.path = path
        self.keep = keep
        """Samples kept; the file is rewritten when it holds twice as many."""
        self._lines = 0

    def load(self, identity: Identity, since: float) -> list[Sample]:
        """The samples of this Envoy taken at `since` or later, oldest first."""
        samples = []
        try:
            lines = self.path.read_text().splitlines()
        except OSError:
            return []
        for line in lines:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                found = json.loads(line)
                if tuple(found["envoy"]) == identity and found["time"] >= since:
                    samples.append(_sample(found))
        self._lines = len(lines)
        return samples[-self.keep :]

    def append(self, identity: Identity, sample: Sample, kept: list[Sample]) -> None:
        """Add one sample; rewrite the file from `kept` once it has grown too long."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._lines >= 2 * self.keep:
            text = "".join(_line(identity, s) for s in kept)
            scratch = self.path.with_suffix(".tmp")
            scratch.write_text(text)
            scratch.replace(self.path)
            self._lines = len(kept)
            return
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(_line(identity, sample))
        self._lines += 1


def _line(identity: Identity, sample: Sample) -> str:
    clusters = {
        name: [
            list(c.responses),
            list(c.durations.bounds),
            list(c.durations.cumulative),
            c.durations.total_ms,
            c.attempts,
        ]
        for name, c in sample.clusters.items()
    }
    found = {"envoy": list(identity), "time": sample.time, "uptime": sample.uptime}
    return json.dumps({**found, "clusters": clusters}) + "\n"


def _sample(found: dict[str, Any]) -> Sample:
    clusters = {}
    for name, (responses, bounds, cumulative, total_ms, attempts) in found["clusters"].items():
        durations = Histogram(tuple(bounds), tuple(cumulative), float(total_ms))
        clusters[name] = ClusterCounters(tuple(responses), durations, int(attempts))
    uptime = found.get("uptime")
    return Sample(float(found["time"]), clusters, None if uptime is None else float(uptime))
