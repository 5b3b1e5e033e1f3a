"""Fixtures of the data-plane tests: backends, a started Envoy data plane, an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from coalmine.local.envoy import (
    Cluster,
    DataPlane,
    Destination,
    Endpoint,
    EnvoyDataPlane,
    EnvoySettings,
    Listener,
    Route,
    VirtualHost,
)
from tests.local.envoy.backends import Backend, Behaviour

MakeBackend = Callable[..., Awaitable[Backend]]


@pytest.fixture
async def make_backend() -> AsyncIterator[MakeBackend]:
    started: list[Backend] = []

    async def make(name: str, **behaviour: Any) -> Backend:
        backend = await Backend(name, Behaviour(**behaviour)).start()
        started.append(backend)
        return backend

    yield make
    for backend in started:
        await backend.stop()


def settings(state_dir: Path) -> EnvoySettings:
    """Fast flushes so that durations show up quickly; one worker on this 2-core box."""
    return EnvoySettings(
        state_dir=state_dir,
        concurrency=1,
        stats_flush_interval=timedelta(milliseconds=200),
        restart_backoff=timedelta(milliseconds=50),
    )


@pytest.fixture
async def dataplane(tmp_path: Path) -> AsyncIterator[EnvoyDataPlane]:
    plane = EnvoyDataPlane(settings(tmp_path), stats_interval_s=0.2)
    await plane.start()
    yield plane
    await plane.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield session


def cluster_of(backend: Backend, name: str | None = None) -> Cluster:
    return Cluster(name or f"test_{backend.name}", (Endpoint("127.0.0.1", backend.port),))


def split(weights: dict[Backend, int], *, port: int = 0) -> DataPlane:
    """One gateway route on any Host, splitting between the backends by weight."""
    destinations = tuple(Destination(f"test_{b.name}", weight) for b, weight in weights.items())
    route = Route("main", destinations)
    return DataPlane(
        listeners=(Listener(port=port, virtual_hosts=(VirtualHost("any", ("*",), (route,)),)),),
        clusters=tuple(cluster_of(backend) for backend in weights),
    )


def gateway_url(plane: EnvoyDataPlane, path: str = "/") -> str:
    host, port = plane.gateway_address
    return f"http://{host}:{port}{path}"
