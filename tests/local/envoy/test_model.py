"""The model's helpers: cluster naming and listener lookup."""

from __future__ import annotations

import pytest

from coalmine.local.envoy import DataPlane


def test_an_unknown_listener_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="no listener named 'gateway'"):
        DataPlane().listener("gateway")
