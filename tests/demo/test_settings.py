"""The demo's environment knobs: defaults, values, and errors that name the variable."""

import pytest

from coalmine.demo import DemoSettings
from coalmine.errors import CoalmineError


def test_defaults_when_nothing_is_set() -> None:
    settings = DemoSettings.from_env({})
    assert settings == DemoSettings(
        version="unknown",
        host="127.0.0.1",
        port=8080,
        error_rate=0.2,
        delay_ms=0,
        random_delay_max_ms=0,
    )


def test_every_knob_is_read() -> None:
    env = {
        "VERSION": "0.0.2",
        "HOST": "0.0.0.0",
        "PORT": "9000",
        "DEMO_ERROR_RATE": "0.5",
        "DEMO_DELAY_MS": "100",
        "DEMO_RANDOM_DELAY_MAX_MS": "3000",
    }
    assert DemoSettings.from_env(env) == DemoSettings(
        version="0.0.2",
        host="0.0.0.0",
        port=9000,
        error_rate=0.5,
        delay_ms=100,
        random_delay_max_ms=3000,
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "http", "PORT: must be a whole number from 0 to 65535, got 'http'"),
        ("PORT", "70000", "PORT: must be a whole number from 0 to 65535"),
        ("DEMO_ERROR_RATE", "20%", "DEMO_ERROR_RATE: must be a share from 0 to 1"),
        ("DEMO_ERROR_RATE", "1.5", "DEMO_ERROR_RATE: must be a share from 0 to 1"),
        ("DEMO_ERROR_RATE", "nan", "DEMO_ERROR_RATE: must be a share from 0 to 1"),
        ("DEMO_DELAY_MS", "-1", "DEMO_DELAY_MS: must be a whole number from 0 to 60000"),
        ("DEMO_RANDOM_DELAY_MAX_MS", "3s", "DEMO_RANDOM_DELAY_MAX_MS: must be a whole number"),
    ],
)
def test_a_bad_value_names_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(CoalmineError, match="^" + message.replace("(", r"\(")):
        DemoSettings.from_env({name: value})
