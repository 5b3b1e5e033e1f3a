"""The collector's samples on disk: read back only for the same Envoy, kept bounded."""

from __future__ import annotations

from pathlib import Path

from coalmine.local.envoy.history import SampleHistory
from coalmine.metrics.providers.envoy.stats import ClusterCounters, Histogram, Sample


def sample(at: float, ok: int) -> Sample:
    durations = Histogram((1.0, 5.0), (ok, ok, ok), 2.5 * ok)
    return Sample(at, {"shop_web": ClusterCounters((0, ok, 0, 0, 1), durations, ok + 1)})


def test_samples_come_back_for_the_same_envoy_only(tmp_path: Path) -> None:
    history = SampleHistory(tmp_path / "h.jsonl", keep=10)
    kept: list[Sample] = []
    for at in range(5):
        kept.append(sample(float(at), at * 10))
        history.append((42, 7), kept[-1], kept)
    history.append((43, 9), sample(5.0, 99), kept)  # another Envoy (restarted)

    assert SampleHistory(tmp_path / "h.jsonl", keep=10).load((42, 7), since=0) == kept
    assert SampleHistory(tmp_path / "h.jsonl", keep=10).load((42, 7), since=3) == kept[3:]
    assert SampleHistory(tmp_path / "h.jsonl", keep=10).load((42, 8), since=0) == []
    assert SampleHistory(tmp_path / "missing.jsonl", keep=10).load((42, 7), since=0) == []


def test_the_file_is_rewritten_from_what_is_kept_once_it_doubles(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    history = SampleHistory(path, keep=3)
    kept: list[Sample] = []
    for at in range(20):
        kept = [*kept, sample(float(at), at)][-3:]
        history.append((1, 1), kept[-1], kept)
    assert len(path.read_text().splitlines()) <= 6
    assert SampleHistory(path, keep=3).load((1, 1), since=0) == kept
