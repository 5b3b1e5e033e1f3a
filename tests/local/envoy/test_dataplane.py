"""EnvoyDataPlane against a real Envoy: traffic splits, changes under load, bad input."""

from __future__ import annotations

import dataclasses
import socket
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from coalmine.errors import EnvoyRejected, InvalidDataPlane, Unavailable
from coalmine.local.envoy import (
    Cluster,
    DataPlane,
    Destination,
    Endpoint,
    EnvoyDataPlane,
    Listener,
    Route,
    RouteMatch,
    StringMatch,
    VirtualHost,
)
from coalmine.local.envoy.dataplane import route_shape, shape_key
from tests.local.envoy.conftest import MakeBackend, cluster_of, gateway_url, settings, split
from tests.local.envoy.traffic import Load, backends, burst, statuses

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("canary_weight", [10, 20, 50])
async def test_split_matches_weights_within_two_points(
    dataplane: EnvoyDataPlane,
    make_backend: MakeBackend,
    http: aiohttp.ClientSession,
    canary_weight: int,
) -> None:
    primary, canary = await make_backend("primary"), await make_backend("canary")
    await dataplane.apply(split({primary: 100 - canary_weight, canary: canary_weight}))

    answers = await burst(http, gateway_url(dataplane), 5000, concurrency=24)

    assert statuses(answers) == {200: 5000}
    share = backends(answers)["canary"] / 5000 * 100
    assert abs(share - canary_weight) <= 2, f"canary got {share:.1f}% at weight {canary_weight}"


async def test_forty_weight_changes_under_load_fail_no_request(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    primary, canary = await make_backend("primary"), await make_backend("canary")
    await dataplane.apply(split({primary: 100, canary: 0}))
    load = Load(http, gateway_url(dataplane), workers=8)
    load.start()
    settled: list[tuple[set[str], str]] = []
    for change in range(40):
        weight = [0, 100, 20, 60][change % 4]
        await dataplane.apply(split({primary: 100 - weight, canary: weight}))
        await load.more(25)
        if weight in (0, 100):
            latest = {answer.backend for answer in load.answers[-10:]}
            settled.append((latest, "canary" if weight else "primary"))
    answers = await load.stop()

    assert load.failures() == [], f"{len(load.failures())} of {len(answers)} requests failed"
    assert len(answers) >= 40 * 25
    for latest, expected in settled:
        assert latest == {expected}, f"after a change to all-{expected}, traffic went to {latest}"


async def test_replacing_the_cluster_behind_a_route_under_load_fails_no_request(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    """Each change adds one cluster and removes the other in one apply: the order
    (clusters added, routes, clusters removed) keeps every request on a known cluster."""
    blue, green = await make_backend("blue"), await make_backend("green")
    only_blue, only_green = split({blue: 100}), split({green: 100})
    await dataplane.apply(only_blue)
    load = Load(http, gateway_url(dataplane), workers=8)
    load.start()
    for change in range(10):
        await dataplane.apply(only_green if change % 2 == 0 else only_blue)
        await load.more(25)
    answers = await load.stop()

    assert load.failures() == [], f"{len(load.failures())} of {len(answers)} requests failed"
    assert backends(answers).keys() == {"blue", "green"}


async def test_scaling_a_cluster_under_load_fails_no_request(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    """Replicas come and go as endpoints of one cluster (a CDS update of that cluster)."""
    first, second = await make_backend("first"), await make_backend("second")
    one = split({first: 100})
    both = Cluster("test_first", (*one.clusters[0].endpoints, Endpoint("127.0.0.1", second.port)))
    two = dataclasses.replace(one, clusters=(both,))
    await dataplane.apply(one)
    load = Load(http, gateway_url(dataplane), workers=8)
    load.start()
    for change in range(10):
        await dataplane.apply(two if change % 2 == 0 else one)
        await load.more(50)
    answers = await load.stop()

    assert load.failures() == [], f"{len(load.failures())} of {len(answers)} requests failed"
    assert backends(answers).keys() == {"first", "second"}


async def test_weights_not_summing_to_100_are_refused_and_routes_stay(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    primary, canary = await make_backend("primary"), await make_backend("canary")
    good = split({primary: 100, canary: 0})
    await dataplane.apply(good)

    with pytest.raises(InvalidDataPlane) as refused:
        split({primary: 60, canary: 30})

    assert "routes[main].destinations" in str(refused.value)
    assert "must sum to 100, got 60 + 30 = 90" in str(refused.value)
    assert backends(await burst(http, gateway_url(dataplane), 50)) == {"primary": 50}
    assert dataplane.current == good


async def test_route_to_unknown_cluster_is_refused_with_the_fix(make_backend: MakeBackend) -> None:
    primary = await make_backend("primary")
    route = Route("main", (Destination("test_primary", 80), Destination("test_canary", 20)))
    with pytest.raises(InvalidDataPlane) as refused:
        DataPlane(
            listeners=(Listener(virtual_hosts=(VirtualHost("any", ("*",), (route,)),)),),
            clusters=(cluster_of(primary),),
        )
    message = str(refused.value)
    assert "listeners[gateway].virtual_hosts[any].routes[main].destinations[1].cluster" in message
    assert "unknown cluster 'test_canary'; add it to clusters (known: test_primary)" in message


async def test_config_envoy_rejects_leaves_the_running_routes(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    primary, canary = await make_backend("primary"), await make_backend("canary")
    good = split({primary: 100, canary: 0})
    await dataplane.apply(good)
    lookahead = RouteMatch(path=StringMatch.regex("/(?=canary).*"))
    bad_route = Route("canary-only", (Destination("test_canary", 100),), matches=(lookahead,))
    bad = _with_first_route(split({primary: 0, canary: 100}), bad_route)

    with pytest.raises(EnvoyRejected) as rejected:
        await dataplane.apply(bad)

    assert "Envoy rejected it: invalid perl operator: (?=" in str(rejected.value)
    assert backends(await burst(http, gateway_url(dataplane, "/canary"), 50)) == {"primary": 50}
    assert dataplane.current == good


async def test_listener_on_a_taken_port_is_rejected_and_routes_stay(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    """Envoy's validation does not bind ports; the LDS update itself fails and apply
    puts the last good files back."""
    primary, canary = await make_backend("primary"), await make_backend("canary")
    good = split({primary: 100, canary: 0})
    await dataplane.apply(good)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        extra = Listener("extra", good.listeners[0].virtual_hosts, port=taken.getsockname()[1])
        moved = split({primary: 0, canary: 100})
        bad = dataclasses.replace(moved, listeners=(*moved.listeners, extra))

        with pytest.raises(EnvoyRejected) as rejected:
            await dataplane.apply(bad)

    assert "Address already in use" in str(rejected.value)
    assert backends(await burst(http, gateway_url(dataplane), 50)) == {"primary": 50}
    assert dataplane.current == good


async def test_listeners_can_be_added_and_removed(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    primary = await make_backend("primary")
    one = split({primary: 100})
    extra = Listener("internal", one.listeners[0].virtual_hosts, port=0)
    two = dataclasses.replace(one, listeners=(*one.listeners, extra))
    await dataplane.apply(two)
    host, port = dataplane.listener_address("internal")

    assert backends(await burst(http, f"http://{host}:{port}/", 10)) == {"primary": 10}
    await dataplane.apply(one)
    assert backends(await burst(http, gateway_url(dataplane), 10)) == {"primary": 10}
    with pytest.raises(KeyError):
        dataplane.listener_address("internal")


def _with_first_route(plane: DataPlane, route: Route) -> DataPlane:
    listener = plane.listeners[0]
    host = listener.virtual_hosts[0]
    host = dataclasses.replace(host, routes=(route, *host.routes))
    listener = dataclasses.replace(listener, virtual_hosts=(host,))
    return dataclasses.replace(plane, listeners=(listener,))


async def test_apply_before_start_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    plane = EnvoyDataPlane(settings(tmp_path))
    with pytest.raises(Unavailable, match="start the Envoy data plane"):
        await plane.apply(DataPlane())
    assert not (tmp_path / "envoy").exists()


async def test_a_weight_only_change_reuses_the_validation_of_its_route_shape(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    primary, canary = await make_backend("primary"), await make_backend("canary")
    await dataplane.apply(split({primary: 100, canary: 0}))
    validated = dataplane.validations
    for weight in (20, 40, 60, 0):
        await dataplane.apply(split({primary: 100 - weight, canary: weight}))
    assert dataplane.validations == validated  # same shape: Envoy's check is not asked again
    assert backends(await burst(http, gateway_url(dataplane), 20)) == {"primary": 20}

    third = await make_backend("third")
    await dataplane.apply(split({primary: 50, canary: 25, third: 25}))
    assert dataplane.validations == validated + 1  # a new shape is validated


def test_the_route_shape_is_read_from_the_model_and_ignores_only_the_weights() -> None:
    """What decides whether Envoy's validation is asked again (no Envoy needed)."""

    def plane(weights: tuple[int, int], *, timeout: int | None = None) -> DataPlane:
        destinations = (Destination("a", weights[0]), Destination("b", weights[1]))
        seconds = None if timeout is None else timedelta(seconds=timeout)
        route = Route("r", destinations, timeout=seconds)
        host = VirtualHost("any", ("*",), (route,))
        return DataPlane((Listener(virtual_hosts=(host,)),), (Cluster("a"), Cluster("b")))

    ports = {"gateway": 8080}
    assert shape_key(plane((100, 0)), ports) == shape_key(plane((30, 70)), ports)
    assert shape_key(plane((100, 0)), ports) != shape_key(plane((100, 0), timeout=5), ports)
    assert shape_key(plane((100, 0)), ports) != shape_key(plane((100, 0)), {"gateway": 8081})
    [listener] = route_shape(plane((30, 70)))[0]
    assert [d.weight for d in listener.virtual_hosts[0].routes[0].destinations] == [0, 0]
