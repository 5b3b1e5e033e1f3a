"""Envoy's own validation of a rendered configuration (runs `envoy --mode validate`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from coalmine.errors import EnvoyRejected
from coalmine.local.envoy import (
    Cluster,
    DataPlane,
    Destination,
    EnvoySettings,
    Listener,
    Route,
    RouteMatch,
    StringMatch,
    VirtualHost,
)
from coalmine.local.envoy.envoy_check import envoy_validate
from coalmine.local.envoy.render import XdsPaths, render, validation_bootstrap


def _candidate(path: StringMatch, tmp_path: Path) -> dict[str, object]:
    route = Route("main", (Destination("shop_web", 100),), matches=(RouteMatch(path=path),))
    host = VirtualHost("web", ("*",), (route,))
    plane = DataPlane(listeners=(Listener(virtual_hosts=(host,)),), clusters=(Cluster("shop_web"),))
    rendered = render(plane, {"gateway": 8080}, XdsPaths(tmp_path))
    return validation_bootstrap(rendered, timedelta(seconds=1))


async def test_envoy_accepts_a_good_configuration(tmp_path: Path) -> None:
    envoy = EnvoySettings(state_dir=tmp_path).envoy_binary()
    await envoy_validate(envoy, _candidate(StringMatch.regex("/items/[0-9]+"), tmp_path), tmp_path)


async def test_envoy_rejects_what_re2_cannot_do_and_says_why(tmp_path: Path) -> None:
    envoy = EnvoySettings(state_dir=tmp_path).envoy_binary()
    with pytest.raises(EnvoyRejected, match=r"Envoy rejected it: invalid perl operator: \(\?<"):
        await envoy_validate(envoy, _candidate(StringMatch.regex("/(?<!x)y"), tmp_path), tmp_path)
    assert _leftovers(tmp_path) == []


def _leftovers(directory: Path) -> list[Path]:
    return list(directory.glob("validate-*"))
