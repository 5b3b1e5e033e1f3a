"""The demo service's settings, read once from the environment at start-up.

Local-mode Deployments and container images configure the demo the way the
workshop's go-demo-7 is configured: with environment variables. Every knob has a
default, so `python -m coalmine.demo` runs with none set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from coalmine.errors import CoalmineError

__all__ = ["MAX_DELAY_MS", "DemoSettings"]

MAX_DELAY_MS = 60_000
"""Upper bound of every delay (query parameter or knob): a typo must not hang a client for hours."""


@dataclass(frozen=True)
class DemoSettings:
    """How one demo process behaves."""

    version: str = "unknown"
    """The release this process claims to be (`VERSION`); shown by every endpoint."""
    host: str = "127.0.0.1"
    """Address to listen on (`HOST`)."""
    port: int = 8080
    """Port to listen on (`PORT`); 0 picks a free one."""
    error_rate: float = 0.2
    """Share of /demo/random-error requests that fail with 500 (`DEMO_ERROR_RATE`)."""
    delay_ms: int = 0
    """Fixed delay added to every /demo/hello request (`DEMO_DELAY_MS`): a slow release."""
    random_delay_max_ms: int = 0
    """Random delay of 0..N ms added to /demo/hello (`DEMO_RANDOM_DELAY_MAX_MS`)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DemoSettings:
        """Settings from environment variables; a bad value names the variable and the fix."""
        defaults = cls()
        return cls(
            version=env.get("VERSION", "").strip() or defaults.version,
            host=env.get("HOST", "").strip() or defaults.host,
            port=_whole_number(env, "PORT", defaults.port, 65_535),
            error_rate=_share(env, "DEMO_ERROR_RATE", defaults.error_rate),
            delay_ms=_whole_number(env, "DEMO_DELAY_MS", defaults.delay_ms, MAX_DELAY_MS),
            random_delay_max_ms=_whole_number(
                env, "DEMO_RANDOM_DELAY_MAX_MS", defaults.random_delay_max_ms, MAX_DELAY_MS
            ),
        )


def _whole_number(env: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) > maximum:
        raise CoalmineError(f"{name}: must be a whole number from 0 to {maximum}, got {text!r}")
    return int(text)


def _share(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise CoalmineError(f"{name}: must be a share from 0 to 1 (0.2 is 20 %), got {text!r}")
    return value
