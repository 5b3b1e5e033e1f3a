"""The canary's VirtualService: weights in, weights out, Flagger's shape."""

from __future__ import annotations

import re

from coalmine.api import Canary
from coalmine.engine import Routes
from coalmine.routing.session_affinity import canary_cookie
from coalmine.routing.virtual_service import routes_of, virtual_service_spec
from tests.engine.builders import canary


def test_one_weighted_route_with_the_service_settings() -> None:
    c = canary(
        service={
            "port": 80,
            "gateways": ["go-demo-7"],
            "hosts": ["*"],
            "timeout": "5s",
            "retries": {"attempts": 3, "perTryTimeout": "1s", "retryOn": "5xx"},
        }
    )
    spec = virtual_service_spec(c, Routes(80, 20))
    assert spec == {
        "hosts": ["*"],  # Flagger adds the apex name only when neither it nor * is there
        "gateways": ["go-demo-7"],
        "http": [
            {
                "route": [
                    {
                        "destination": {"host": "go-demo-7-primary", "port": {"number": 80}},
                        "weight": 80,
                    },
                    {
                        "destination": {"host": "go-demo-7-canary", "port": {"number": 80}},
                        "weight": 20,
                    },
                ],
                "retries": {"attempts": 3, "perTryTimeout": "1s", "retryOn": "5xx"},
                "timeout": "5s",
            }
        ],
    }
    assert routes_of(c, spec) == Routes(80, 20)


def test_gateways_default_to_the_mesh() -> None:
    spec = virtual_service_spec(canary(), Routes(100, 0))
    assert spec["gateways"] == ["mesh"]
    assert spec["hosts"] == ["go-demo-7"]


def test_mirroring_adds_the_canary_as_mirror_with_its_percentage() -> None:
    c = canary({"mirror": True, "mirrorWeight": 25})
    spec = virtual_service_spec(c, Routes(100, 0, mirrored=True))
    assert spec["http"][0]["mirror"] == {"host": "go-demo-7-canary"}
    assert spec["http"][0]["mirrorPercentage"] == {"value": 25.0}
    assert routes_of(c, spec) == Routes(100, 0, mirrored=True)


def test_ab_testing_puts_the_matching_route_first() -> None:
    match = [{"headers": {"x-canary": {"exact": "insider"}}}]
    c = canary({"stepWeight": None, "maxWeight": None, "iterations": 3, "match": match})
    spec = virtual_service_spec(c, Routes(0, 100))
    first, everyone = spec["http"]
    assert first["match"] == [{"headers": {"x-canary": {"exact": "insider"}}}]
    assert [d["weight"] for d in first["route"]] == [0, 100]
    assert "match" not in everyone
    assert [d["weight"] for d in everyone["route"]] == [100, 0]
    assert routes_of(c, spec) == Routes(0, 100)


def test_ab_conditions_combine_with_the_service_match() -> None:
    match = [{"headers": {"x-canary": {"exact": "insider"}}}]
    service_match = [{"uri": {"prefix": "/demo"}}]
    c = canary(
        {"stepWeight": None, "maxWeight": None, "iterations": 3, "match": match},
        service={"port": 80, "match": service_match},
    )
    first, everyone = virtual_service_spec(c, Routes(0, 100))["http"]
    assert first["match"] == [
        {"uri": {"prefix": "/demo"}, "headers": {"x-canary": {"exact": "insider"}}}
    ]
    assert everyone["match"] == service_match


def test_a_spec_without_the_canary_reads_as_all_primary() -> None:
    assert routes_of(canary(), {"http": [{"route": [{"destination": {"host": "x"}}]}]}) == Routes(
        100, 0
    )


def test_delegation_leaves_hosts_and_gateways_empty() -> None:
    c = canary(service={"port": 80, "delegation": True})
    spec = virtual_service_spec(c, Routes(90, 10))
    assert (spec["hosts"], spec["gateways"]) == ([], [])
    assert routes_of(c, spec) == Routes(90, 10)


def test_a_header_suffix_is_written_as_its_re2_regex() -> None:
    match = [{"headers": {"user-agent": {"suffix": "(Android 1.0)"}}}]
    c = canary({"stepWeight": None, "maxWeight": None, "iterations": 3, "match": match})
    spec = virtual_service_spec(c, Routes(0, 100))
    written = spec["http"][0]["match"][0]["headers"]["user-agent"]
    assert written == {"regex": r".*\(Android\ 1\.0\)"}


def test_the_gateway_api_rewrite_type_is_left_out_of_the_virtual_service() -> None:
    rewrite = {"uri": "/", "type": "ReplacePrefixMatch"}
    spec = virtual_service_spec(canary(service={"port": 80, "rewrite": rewrite}), Routes(100, 0))
    assert spec["http"][0]["rewrite"] == {"uri": "/"}


def test_the_apex_host_is_added_unless_named_or_starred() -> None:
    named = canary(service={"port": 80, "hosts": ["go-demo-7", "a.example"]})
    assert virtual_service_spec(named, Routes(100, 0))["hosts"] == ["go-demo-7", "a.example"]
    other = canary(service={"port": 80, "hosts": ["a.example"]})
    assert virtual_service_spec(other, Routes(100, 0))["hosts"] == ["a.example", "go-demo-7"]


def test_a_tcp_service_gets_a_weighted_tcp_route() -> None:
    service = {"port": 6379, "appProtocol": "tcp", "match": [{"port": 6379}]}
    c = canary(service=service)
    spec = virtual_service_spec(c, Routes(70, 30))
    assert "http" not in spec
    [tcp] = spec["tcp"]
    assert tcp["match"] == [{"port": 6379}]
    assert [d["weight"] for d in tcp["route"]] == [70, 30]
    assert routes_of(c, spec) == Routes(70, 30)


def affine(**affinity: object) -> Canary:
    c = canary(
        {"sessionAffinity": {"cookieName": "canary-flagger-cookie", **affinity}},
        service={"port": 80, "match": [{"uri": {"prefix": "/api"}}]},
    )
    return c.with_status(c.status.model_copy(update={"last_applied_spec": "rev-2"}))


def test_session_affinity_sends_cookie_holders_to_the_canary_and_sets_the_cookie() -> None:
    c = affine(primaryCookieName="primary-flagger-cookie", path="/", secure=True)
    spec = virtual_service_spec(c, Routes(90, 10))
    to_canary, to_primary, weighted = spec["http"]
    assert (to_canary["name"], to_primary["name"]) == ("sticky-route", "sticky-route-primary")
    canary_value = canary_cookie(c, c.spec.analysis.session_affinity)  # type: ignore[arg-type]
    name, _, value = canary_value.partition("=")
    assert name == "canary-flagger-cookie" and len(value) == 10 and value.isalpha()
    [match] = to_canary["match"]
    assert match["uri"] == {"prefix": "/api"}  # merged with the service's own match
    assert re.fullmatch(match["headers"]["cookie"]["regex"], f"a=b; {canary_value}; c=d")
    assert [d["weight"] for d in to_canary["route"]] == [0, 100]
    assert [d["weight"] for d in to_primary["route"]] == [100, 0]
    cookies = [d.get("headers", {}).get("response", {}).get("add", {}) for d in weighted["route"]]
    assert cookies[1]["Set-Cookie"] == f"{canary_value}; Max-Age=86400; Path=/; Secure"
    assert cookies[0]["Set-Cookie"].startswith("primary-flagger-cookie=")
    assert routes_of(c, spec) == Routes(90, 10)  # the sticky routes carry no weights


def test_the_cookie_is_stable_per_revision_and_new_for_the_next() -> None:
    c = affine()
    affinity = c.spec.analysis.session_affinity
    assert affinity is not None
    same = virtual_service_spec(c, Routes(80, 20))["http"][0]
    assert same == virtual_service_spec(c, Routes(80, 20))["http"][0]
    later = c.with_status(c.status.model_copy(update={"last_applied_spec": "rev-3"}))
    assert canary_cookie(later, affinity) != canary_cookie(c, affinity)


def test_after_the_analysis_the_cookie_is_expired_and_all_goes_to_the_primary() -> None:
    c = affine()
    spec = virtual_service_spec(c, Routes(100, 0))
    sticky, weighted = spec["http"]
    cookie = canary_cookie(c, c.spec.analysis.session_affinity)  # type: ignore[arg-type]
    assert sticky["headers"]["response"]["add"]["Set-Cookie"] == f"{cookie}; Max-Age=-1"
    assert [d["weight"] for d in sticky["route"]] == [100, 0]
    assert all("headers" not in d for d in weighted["route"])
    assert routes_of(c, spec) == Routes(100, 0)


def weights(spec: dict[str, object]) -> list[tuple[str, int]]:
    route = spec["http"][0]["route"]  # type: ignore[index]
    return [(d["destination"]["host"], d["weight"]) for d in route]


def test_a_baseline_is_a_third_destination_and_its_weight_is_read_back() -> None:
    judged = canary({"judge": {"errors": {"maxIncrease": 1}, "baseline": True}})
    spec = virtual_service_spec(judged, Routes(60, 20, baseline=20))
    assert weights(spec) == [
        ("go-demo-7-primary", 60),
        ("go-demo-7-canary", 20),
        ("go-demo-7-baseline", 20),
    ]
    assert routes_of(judged, spec) == Routes(60, 20, baseline=20)


def test_with_the_baseline_turned_off_its_share_goes_back_to_the_primary() -> None:
    """Weights always add up to 100, as Istio requires, when judge.baseline is removed
    in the middle of an analysis."""
    judged = canary({"judge": {"errors": {"maxIncrease": 1}, "baseline": True}})
    read = routes_of(judged, virtual_service_spec(judged, Routes(60, 20, baseline=20)))
    plain = canary({"judge": {"errors": {"maxIncrease": 1}}})
    assert weights(virtual_service_spec(plain, read)) == [
        ("go-demo-7-primary", 80),
        ("go-demo-7-canary", 20),
    ]
