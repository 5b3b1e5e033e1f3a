"""The runtime's floor for spec.analysis.interval, checked by the caller that admits."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from tests.api.test_loading import canary_text

from coalmine.api.interval_floor import MIN_INTERVAL, interval_problems
from coalmine.api.loading import load_text

FLOOR_CHECK = partial(interval_problems, floor=MIN_INTERVAL)


def problems(text: str, floor: timedelta = MIN_INTERVAL) -> list[str]:
    checks = [partial(interval_problems, floor=floor)]
    return [str(p) for p in load_text(text, source="canary.yaml", checks=checks).problems]


def test_an_interval_below_the_floor_names_the_field_the_floor_and_the_flag() -> None:
    assert problems(canary_text("interval: 5s\nstepWeight: 20")) == [
        "canary go-demo-7: spec.analysis.interval: must be at least 10s (the floor,"
        " --min-interval), got '5s': raise it, or lower --min-interval"
    ]
    assert problems(canary_text("interval: 500ms\nstepWeight: 20"), timedelta(seconds=1)) == [
        "canary go-demo-7: spec.analysis.interval: must be at least 1s (the floor,"
        " --min-interval), got '500ms': raise it, or lower --min-interval"
    ]


def test_a_runtime_may_lower_the_floor() -> None:
    text = canary_text("interval: 2s\nstepWeight: 20")
    loaded = load_text(text, checks=[partial(interval_problems, floor=timedelta(seconds=2))])
    assert loaded.problems == [] and len(loaded.resources) == 1


def test_a_canary_below_the_floor_gives_no_resource() -> None:
    loaded = load_text(canary_text("interval: 5s\nstepWeight: 20"), checks=[FLOOR_CHECK])
    assert loaded.resources == [] and len(loaded.problems) == 1


def test_the_floor_is_listed_with_the_models_problems() -> None:
    listed = problems(canary_text("interval: 5s\nstepWeights: [20, 10]"))
    assert [line.split(": ")[1] for line in listed] == [
        "spec.analysis.stepWeights",
        "spec.analysis.interval",
    ]


def test_what_is_not_a_canarys_interval_below_the_floor_is_left_to_the_model() -> None:
    canary = {"kind": "Canary", "metadata": {"name": "app"}, "spec": {"analysis": {}}}
    assert interval_problems(canary, MIN_INTERVAL) == []  # the default 1m
    malformed = {"kind": "Canary", "spec": {"analysis": {"interval": "soon"}}}
    assert interval_problems(malformed, MIN_INTERVAL) == []
    template = {"kind": "MetricTemplate", "spec": {"analysis": {"interval": "1s"}}}
    assert interval_problems(template, MIN_INTERVAL) == []
    assert interval_problems(["not", "a", "mapping"], MIN_INTERVAL) == []


def test_a_nameless_canary_is_named_by_its_place_in_the_file() -> None:
    text = canary_text("interval: 5s\nstepWeight: 20").replace(
        "{name: go-demo-7, namespace: test}", "{namespace: test}"
    )
    listed = problems(text)
    assert any(
        line.startswith("canary.yaml document 1: spec.analysis.interval:") for line in listed
    )
