"""Rendering a DataPlane into Envoy resources. Pure; what Envoy does with them is in
test_routing.py and test_dataplane.py."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from coalmine.local.envoy import (
    ISTIO_DEFAULT_RETRIES,
    Cluster,
    DataPlane,
    Destination,
    Endpoint,
    HeaderOps,
    Listener,
    Mirror,
    Retries,
    Route,
    RouteMatch,
    StringMatch,
    VirtualHost,
)
from coalmine.local.envoy.render import (
    DURATION_BUCKETS_MS,
    XdsPaths,
    bootstrap,
    render,
    validation_bootstrap,
    xds_file,
)

PATHS = XdsPaths(Path("/state/envoy/xds"))


def _plane(route: Route) -> DataPlane:
    clusters = (
        Cluster("shop_web-primary", (Endpoint("127.0.0.1", 9001),)),
        Cluster("shop_web-canary", (Endpoint("127.0.0.1", 9002),)),
    )
    host = VirtualHost("web", ("shop.example.com",), (route,))
    return DataPlane(listeners=(Listener(virtual_hosts=(host,)),), clusters=clusters)


def _split(**options: object) -> Route:
    destinations = (Destination("shop_web-primary", 80), Destination("shop_web-canary", 20))
    return Route("canary", destinations, **options)  # type: ignore[arg-type]


def _envoy_routes(route: Route) -> list[dict[str, object]]:
    rendered = render(_plane(route), {"gateway": 8080}, PATHS)
    routes: list[dict[str, object]] = rendered.routes["gateway"]["virtual_hosts"][0]["routes"]
    return routes


def test_weights_become_weighted_clusters_and_no_timeout_is_istios_none() -> None:
    [route] = _envoy_routes(_split())
    assert route["match"] == {"prefix": "/"}
    assert route["route"] == {
        "weighted_clusters": {
            "clusters": [
                {"name": "shop_web-primary", "weight": 80},
                {"name": "shop_web-canary", "weight": 20},
            ]
        },
        "timeout": "0s",
    }


def test_each_match_of_a_route_becomes_one_envoy_route_in_order() -> None:
    matches = (
        RouteMatch(path=StringMatch.exact("/version")),
        RouteMatch(path=StringMatch.regex("/items/[0-9]+")),
    )
    routes = _envoy_routes(_split(matches=matches))
    assert [r["match"] for r in routes] == [
        {"path": "/version"},
        {"safe_regex": {"regex": "/items/[0-9]+"}},
    ]


def test_set_overwrites_add_appends_and_names_are_lowercased() -> None:
    ops = HeaderOps(set={"X-Release": "canary"}, add={"x-tag": "a"}, remove=("X-Secret",))
    [route] = _envoy_routes(_split(headers=ops))
    overwrite, append = "OVERWRITE_IF_EXISTS_OR_ADD", "APPEND_IF_EXISTS_OR_ADD"
    assert route["request_headers_to_add"] == [
        {"header": {"key": "x-release", "value": "canary"}, "append_action": overwrite},
        {"header": {"key": "x-tag", "value": "a"}, "append_action": append},
    ]
    assert route["request_headers_to_remove"] == ["x-secret"]


def test_mirror_percent_timeout_and_retries() -> None:
    retries = Retries(attempts=3, per_try_timeout=timedelta(milliseconds=250), retry_on="5xx")
    route = _split(
        mirror=Mirror("shop_web-canary", 12.5), timeout=timedelta(seconds=2), retries=retries
    )
    [rendered] = _envoy_routes(route)
    action = rendered["route"]
    assert isinstance(action, dict)
    assert action["timeout"] == "2.000s"
    assert action["request_mirror_policies"] == [
        {
            "cluster": "shop_web-canary",
            "runtime_fraction": {"default_value": {"numerator": 125000, "denominator": "MILLION"}},
        }
    ]
    assert action["retry_policy"] == {
        "retry_on": "5xx",
        "num_retries": 3,
        "per_try_timeout": "0.250s",
        "retry_host_predicate": [
            {
                "name": "envoy.retry_host_predicates.previous_hosts",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.retry.host"
                    ".previous_hosts.v3.PreviousHostsPredicate"
                },
            }
        ],
        "host_selection_retry_max_attempts": 5,
    }


def test_istios_default_retries_render_as_istio_renders_them() -> None:
    [rendered] = _envoy_routes(_split(retries=ISTIO_DEFAULT_RETRIES))
    action = rendered["route"]
    assert isinstance(action, dict)
    policy = action["retry_policy"]
    assert policy["retry_on"] == (
        "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
    )
    assert policy["num_retries"] == 2
    assert policy["retriable_status_codes"] == [503]
    assert policy["host_selection_retry_max_attempts"] == 5
    assert [p["name"] for p in policy["retry_host_predicate"]] == [
        "envoy.retry_host_predicates.previous_hosts"
    ]


def test_listener_reads_its_routes_from_its_own_rds_file() -> None:
    rendered = render(_plane(_split()), {"gateway": 18080}, PATHS)
    listener = rendered.listeners["gateway"]
    assert listener["address"] == {"socket_address": {"address": "127.0.0.1", "port_value": 18080}}
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert manager["rds"]["config_source"]["path_config_source"] == {
        "path": "/state/envoy/xds/routes/gateway.json",
        "watched_directory": {"path": "/state/envoy/xds/routes"},
    }
    assert rendered.routes["gateway"]["validate_clusters"] is True


def test_bootstrap_flushes_stats_and_has_fine_duration_buckets() -> None:
    boot = bootstrap(PATHS, timedelta(seconds=1))
    assert boot["stats_flush_interval"] == "1.000s"
    [buckets] = boot["stats_config"]["histogram_bucket_settings"]
    assert buckets["buckets"] == list(DURATION_BUCKETS_MS)
    assert boot["admin"]["address"]["socket_address"]["port_value"] == 0
    assert boot["dynamic_resources"]["cds_config"]["path_config_source"]["path"].endswith(
        "clusters/cds.json"
    )


def test_validation_bootstrap_inlines_the_routes() -> None:
    rendered = render(_plane(_split()), {"gateway": 8080}, PATHS)
    boot = validation_bootstrap(rendered, timedelta(seconds=1))
    [listener] = boot["static_resources"]["listeners"]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert "rds" not in manager
    assert manager["route_config"]["name"] == "gateway"
    assert "rds" in rendered.listeners["gateway"]["filter_chains"][0]["filters"][0]["typed_config"]


def test_file_version_follows_the_content() -> None:
    one, same, other = xds_file([{"a": 1}]), xds_file([{"a": 1}]), xds_file([{"a": 2}])
    assert one["version_info"] == same["version_info"] != other["version_info"]
