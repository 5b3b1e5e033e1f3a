"""The objects each strategy applies are valid for the local runtime, and differ only
where the strategy does."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from coalmine.api.workloads import Deployment, pod_template_hash
from coalmine.demo.strategies import manifests as m
from coalmine.demo.strategies.options import Strategy
from coalmine.local.objects import ObjectBook
from coalmine.local.store import Store


@pytest.fixture
def book(tmp_path: Path) -> ObjectBook:
    return ObjectBook(Store(tmp_path / "state.db"), min_interval=timedelta(seconds=1))


def documents(text: str) -> list[dict[str, object]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.mark.parametrize("strategy", list(Strategy))
def test_every_strategy_applies_cleanly_in_its_own_namespace(
    book: ObjectBook, strategy: Strategy
) -> None:
    applied = book.apply(m.objects(strategy, interval=2))
    assert {a.namespace for a in applied} == {strategy.value}
    assert m.host(strategy.value) == f"go-demo-7.{strategy.value}.example"


def test_big_bang_runs_both_releases_apart_and_the_service_picks_one(book: ObjectBook) -> None:
    docs = documents(m.objects(Strategy.BIG_BANG, interval=2))
    selectors = {
        d["metadata"]["name"]: d["spec"]["selector"]["matchLabels"]
        for d in docs
        if d["kind"] == "Deployment"
    }
    assert selectors == {
        "go-demo-7-0-0-1": {"app": "go-demo-7", "version": "0.0.1"},
        "go-demo-7-0-0-2": {"app": "go-demo-7", "version": "0.0.2"},
    }
    switched = documents(m.service("big-bang", version="0.0.2"))[0]
    assert switched["spec"]["selector"] == {"app": "go-demo-7", "version": "0.0.2"}
    book.apply(m.objects(Strategy.BIG_BANG, interval=2))
    book.apply(m.service("big-bang", version="0.0.2"))


def test_rolling_and_canary_ship_a_new_template_of_the_same_deployment() -> None:
    good, bad = (
        Deployment.model_validate(documents(m.deployment("rolling", release))[0])
        for release in (m.GOOD, m.BAD)
    )
    assert good.metadata.name == bad.metadata.name == "go-demo-7"
    assert pod_template_hash(good.spec.template) != pod_template_hash(bad.spec.template)
    assert (good.spec.replicas, good.spec.min_ready_seconds) == (m.REPLICAS, m.MIN_READY_SECONDS)
    [container] = bad.spec.template.spec.containers
    env = {var.name: var.value for var in container.env}
    assert env == {"VERSION": "0.0.2", "DEMO_ERROR_RATE": "0.5"}


def test_the_canary_has_the_demos_usual_analysis() -> None:
    [canary] = [
        d for d in documents(m.objects(Strategy.CANARY, interval=3)) if d["kind"] == "Canary"
    ]
    analysis = canary["spec"]["analysis"]
    assert (analysis["interval"], analysis["threshold"], analysis["stepWeight"]) == ("3s", 3, 20)
    assert [metric["name"] for metric in analysis["metrics"]] == [
        "request-success-rate",
        "request-duration",
    ]
