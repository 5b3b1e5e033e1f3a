"""Which strategies `--strategy` means, and the settings refused before anything starts."""

from __future__ import annotations

import pytest

from coalmine.demo.strategies.options import CompareSettings, Strategy, parse_strategies
from coalmine.errors import CoalmineError

ALL = (Strategy.BIG_BANG, Strategy.ROLLING, Strategy.CANARY)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["canary"], (Strategy.CANARY,)),
        (["all"], ALL),
        (["canary", "big-bang"], (Strategy.BIG_BANG, Strategy.CANARY)),
        (["rolling,canary"], (Strategy.ROLLING, Strategy.CANARY)),
        (["canary", "all", "canary"], ALL),
        ([" rolling , big-bang "], (Strategy.BIG_BANG, Strategy.ROLLING)),
    ],
)
def test_strategies_run_once_each_most_exposed_first(
    values: list[str], expected: tuple[Strategy, ...]
) -> None:
    assert parse_strategies(values) == expected


def test_an_unknown_strategy_names_the_option_and_the_choices() -> None:
    with pytest.raises(CoalmineError) as raised:
        parse_strategies(["canary", "blue-green"])
    assert str(raised.value) == (
        "--strategy: unknown strategy 'blue-green'; choose big-bang, rolling, canary or all"
    )


@pytest.mark.parametrize("values", [[], [""], ["canary,"]])
def test_an_empty_strategy_is_refused(values: list[str]) -> None:
    with pytest.raises(CoalmineError, match="--strategy: give big-bang, rolling, canary or all"):
        parse_strategies(values)


def test_defaults() -> None:
    settings = CompareSettings(strategies=ALL)
    assert (settings.detection_delay, settings.rps, settings.interval) == (10.0, 50.0, 2)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"strategies": ()}, "--strategy: give at least one"),
        ({"detection_delay": 0.5}, "--detection-delay: must be from 1 to 120 seconds, got 0.5"),
        ({"detection_delay": float("nan")}, "--detection-delay: must be from 1 to 120"),
        ({"rps": 5}, "--rps: must be from 10 to 500 requests per second, got 5"),
        ({"interval": 0}, "--interval: must be from 1 to 60 seconds, got 0"),
    ],
)
def test_settings_that_cannot_work_name_the_option(fields: dict[str, object], message: str) -> None:
    with pytest.raises(CoalmineError, match=message.replace(".", r"\.")):
        CompareSettings(**{"strategies": ALL, **fields})
