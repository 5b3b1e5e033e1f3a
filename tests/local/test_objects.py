"""Applying objects to the local store: all or nothing, with cross-object checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coalmine.errors import ManifestError, NotFound
from coalmine.local.objects import ObjectBook
from coalmine.local.store import Store
from coalmine.routers.envoy import ORIGINAL

SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: go-demo-7, namespace: demo}
spec:
  selector: {app: go-demo-7}
  ports: [{port: 80, targetPort: 8080}]
"""

VIRTUAL_SERVICE = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: go-demo-7, namespace: demo}
spec:
  hosts: [go-demo-7]
  http:
  - route:
    - destination: {host: go-demo-7, subset: canary}
"""

RULE = """
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: go-demo-7, namespace: demo}
spec:
  host: go-demo-7
  subsets: [{name: canary, labels: {release: canary}}]
"""


@pytest.fixture
def book(tmp_path: Path) -> ObjectBook:
    return ObjectBook(Store(tmp_path / "state.db"))


def messages(error: ManifestError) -> list[str]:
    return [str(p) for p in error.problems]


def test_objects_applied_together_may_refer_to_each_other(book: ObjectBook) -> None:
    applied = book.apply("---".join([SERVICE, RULE, VIRTUAL_SERVICE]))
    assert [str(a) for a in applied] == [
        "service/go-demo-7 created (namespace demo)",
        "destinationrule/go-demo-7 created (namespace demo)",
        "virtualservice/go-demo-7 created (namespace demo)",
    ]
    again = book.apply(SERVICE)
    assert [a.action for a in again] == ["unchanged"]
    changed = book.apply(SERVICE.replace("8080", "9090"))
    assert [a.action for a in changed] == ["configured"]


def test_a_route_to_an_unknown_service_applies_nothing(book: ObjectBook) -> None:
    with pytest.raises(ManifestError) as caught:
        book.apply("---".join([RULE.replace("host: go-demo-7", "host: other"), VIRTUAL_SERVICE]))
    assert messages(caught.value) == [
        "destinationrule go-demo-7: spec.host: service other not found in namespace demo;"
        " apply the Service first",
        "virtualservice go-demo-7: spec.http[0].route[0].destination.host: service go-demo-7"
        " not found in namespace demo; apply the Service first",
    ]
    assert book.store.objects() == []


def test_an_unknown_subset_names_the_defined_ones(book: ObjectBook) -> None:
    book.apply("---".join([SERVICE, RULE]))
    with pytest.raises(ManifestError) as caught:
        book.apply(VIRTUAL_SERVICE.replace("subset: canary", "subset: primary"))
    assert messages(caught.value) == [
        "virtualservice go-demo-7: spec.http[0].route[0].destination.subset: subset 'primary'"
        " is not defined by a DestinationRule for go-demo-7; defined subsets: ['canary']"
    ]


def test_an_unknown_gateway_is_an_error(book: ObjectBook) -> None:
    book.apply("---".join([SERVICE, RULE]))
    with pytest.raises(ManifestError) as caught:
        book.apply(VIRTUAL_SERVICE.replace("  hosts:", "  gateways: [public]\n  hosts:"))
    assert messages(caught.value) == [
        "virtualservice go-demo-7: spec.gateways[0]: gateway 'public' not found;"
        " apply the Gateway first or use mesh"
    ]


def test_matches_envoy_cannot_honour_locally_are_refused(book: ObjectBook) -> None:
    book.apply("---".join([SERVICE, RULE]))
    with_method = VIRTUAL_SERVICE.replace(
        "  - route:", "  - match: [{method: {exact: POST}}]\n    route:"
    )
    with pytest.raises(ManifestError) as caught:
        book.apply(with_method)
    assert messages(caught.value) == [
        "virtualservice go-demo-7: spec.http[0].match[0].method: not supported by the local"
        " runtime (coalmine up); remove it, or use Kubernetes"
    ]


def test_delete_needs_every_object_to_exist(book: ObjectBook) -> None:
    book.apply(SERVICE)
    with pytest.raises(NotFound, match="virtualservice/go-demo-7"):
        book.delete("---".join([SERVICE, VIRTUAL_SERVICE]))
    assert book.store.get("Service", "demo", "go-demo-7") is not None
    assert [a.action for a in book.delete(SERVICE)] == ["deleted"]
    assert book.store.objects() == []


def test_a_stored_object_that_no_longer_validates_is_quarantined(book: ObjectBook) -> None:
    book.apply(SERVICE)
    bad = {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "bad", "namespace": "demo"},
        "spec": {
            "hosts": ["bad"],
            "http": [
                {
                    "match": [{"headers": {"x": {"regex": "(["}}}],
                    "route": [{"destination": {"host": "go-demo-7"}}],
                }
            ],
        },
    }
    book.store.put("VirtualService", "demo", "bad", bad, owner=None)  # as an older coalmine did
    assert book.quarantine_invalid() == [("VirtualService", "demo", "bad")]
    assert [o.name for o in book.store.objects()] == ["go-demo-7"]
    [found] = book.store.quarantined()
    assert "not a valid RE2 regex" in found.reason
    fixed = VIRTUAL_SERVICE.replace("name: go-demo-7, namespace", "name: bad, namespace").replace(
        ", subset: canary", ""
    )
    book.apply(fixed)  # applying a corrected one releases it
    assert book.store.quarantined() == []


def test_a_quarantined_object_can_be_deleted(book: ObjectBook) -> None:
    book.apply(SERVICE)
    book.store.quarantine("Service", "demo", "go-demo-7", reason="r")
    assert [a.action for a in book.delete(SERVICE)] == ["deleted"]
    assert book.store.quarantined() == []


def test_re_applying_a_service_a_canary_took_over_keeps_what_serves(book: ObjectBook) -> None:
    book.apply(SERVICE)
    served = {**book.store.get("Service", "demo", "go-demo-7").manifest}  # type: ignore[union-attr]
    served["spec"] = {"selector": {"app": "go-demo-7-primary"}, "ports": [{"port": 80}]}
    served["metadata"] = {**served["metadata"], "annotations": {ORIGINAL: "{}"}}
    book.store.put("Service", "demo", "go-demo-7", served, owner="Canary/go-demo-7")
    first = book.apply(SERVICE)
    again = book.apply(SERVICE)
    assert [a.action for a in first] == ["configured"]  # the original to give back changed
    assert [a.action for a in again] == ["unchanged"]
    stored = book.store.get("Service", "demo", "go-demo-7")
    assert stored is not None
    assert stored.owner == "Canary/go-demo-7"
    assert stored.manifest["spec"]["selector"] == {"app": "go-demo-7-primary"}
    original = json.loads(stored.manifest["metadata"]["annotations"][ORIGINAL])
    assert original["spec"]["selector"] == {"app": "go-demo-7"}


def test_a_delegate_canary_is_refused_locally_naming_the_field(book: ObjectBook) -> None:
    from tests.fixtures.local import demo_manifests

    text = demo_manifests("0.0.1").replace(
        "service: {port: 80, targetPort: 8080, gateways: [go-demo-7], hosts: [go-demo-7.example]}",
        "service: {port: 80, targetPort: 8080, delegation: true}",
    )
    text = text.replace("interval: 2s", "interval: 10s")
    assert "delegation: true" in text
    with pytest.raises(ManifestError) as caught:
        book.apply(text)
    assert messages(caught.value) == [
        "canary go-demo-7: spec.service.delegation: the local runtime has no Istio delegation"
        " (a root VirtualService that names this one in `delegate`); remove delegation to run"
        " this Canary locally"
    ]


def test_a_tcp_canary_is_refused_locally_naming_the_field(book: ObjectBook) -> None:
    from tests.fixtures.local import demo_manifests

    text = demo_manifests("0.0.1").replace(
        "targetPort: 8080,", "targetPort: 8080, appProtocol: tcp,"
    )
    text = text.replace("interval: 2s", "interval: 10s")
    with pytest.raises(ManifestError) as caught:
        book.apply(text)
    assert messages(caught.value) == [
        "canary go-demo-7: spec.service.appProtocol: the local runtime routes HTTP only (Envoy's"
        " HTTP listener); remove appProtocol tcp to run this Canary locally"
    ]


SECRET = """
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: demo}
data: {password: c2VjcmV0}
stringData: {user: admin, password: override}
"""


def test_a_secret_is_stored_with_string_data_merged_into_data(book: ObjectBook) -> None:
    """As the API server stores it: `stringData` wins over `data` and is not kept."""
    [applied] = book.apply(SECRET)
    assert applied.action == "created"
    stored = book.get("Secret", "demo", "creds").manifest
    assert "stringData" not in stored
    assert stored["data"] == {"password": "b3ZlcnJpZGU=", "user": "YWRtaW4="}
    assert book.apply(SECRET)[0].action == "unchanged"


def test_an_immutable_config_map_keeps_its_content(book: ObjectBook) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: demo}}\n{}\n"
    book.apply(text.format("data: {a: one}\nimmutable: true"))
    with pytest.raises(ManifestError) as raised:
        book.apply(text.format("data: {a: two}\nimmutable: true"))
    assert "configmap c: data: field is immutable" in str(raised.value)
    with pytest.raises(ManifestError):
        book.apply(text.format("data: {a: one}"))
    assert book.get("ConfigMap", "demo", "c").manifest["data"] == {"a": "one"}
    assert book.apply(text.format("data: {a: one}\nimmutable: true"))[0].action == "unchanged"


def test_the_interval_floor_is_the_runtimes_own(tmp_path: Path) -> None:
    """`coalmine up --min-interval`: the book checks the floor it is given, with the same
    problem as the controller and `coalmine validate`; nothing is stored when refused."""
    from datetime import timedelta

    from tests.fixtures.local import demo_manifests

    text = demo_manifests("0.0.1")
    assert "interval: 2s" in text
    strict = ObjectBook(Store(tmp_path / "strict.db"))  # Flagger's 10 s by default
    with pytest.raises(ManifestError) as caught:
        strict.apply(text)
    assert messages(caught.value) == [
        "canary go-demo-7: spec.analysis.interval: must be at least 10s (the floor,"
        " --min-interval), got '2s': raise it, or lower --min-interval"
    ]
    assert list(strict.store.objects()) == []
    lowered = ObjectBook(Store(tmp_path / "lowered.db"), min_interval=timedelta(seconds=2))
    assert "canary/go-demo-7 created (namespace go-demo-7)" in [str(a) for a in lowered.apply(text)]
