"""Config tracking in the local store: revisions with config content, `-primary` copies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from coalmine.api.canary import Canary
from coalmine.api.loading import LOCAL_RESOURCES, load_text
from coalmine.demo.scenario import canary_manifest
from coalmine.errors import AdapterError
from coalmine.local.configs import CONFIG_REVISION, with_config_revision
from coalmine.local.objects import ObjectBook
from coalmine.local.store import Store
from coalmine.local.workload import LocalWorkload, target_revision
from tests.fixtures.local import DEFAULT_ANALYSIS

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: go-demo-7, namespace: go-demo-7}
spec:
  selector: {matchLabels: {app: go-demo-7}}
  template:
    metadata: {labels: {app: go-demo-7}}
    spec:
      containers:
      - name: app
        command: [coalmine, demo-app]
        env: [{name: V, valueFrom: {configMapKeyRef: {name: settings, key: V}}}]
        envFrom: [{secretRef: {name: creds}}, {configMapRef: {name: untracked}}]
        volumeMounts: [{name: files, mountPath: /etc/app}]
      volumes: [{name: files, projected: {sources: [{secret: {name: creds}}]}}]
"""


def config(name: str, value: str, *, kind: str = "ConfigMap", extra: str = "") -> str:
    data = f"stringData: {{V: '{value}'}}" if kind == "Secret" else f"data: {{V: '{value}'}}"
    return (
        f"apiVersion: v1\nkind: {kind}\nmetadata: {{name: {name}, namespace: go-demo-7"
        f"{extra}}}\n{data}\n"
    )


UNTRACKED = config("untracked", "x", extra=", annotations: {flagger.app/config-tracking: disabled}")


@pytest.fixture
def book(tmp_path: Path) -> ObjectBook:
    book = ObjectBook(Store(tmp_path / "state.db"))
    book.apply(
        "---\n".join(
            [DEPLOYMENT, config("settings", "1"), config("creds", "a", kind="Secret"), UNTRACKED]
        )
    )
    return book


def target(book: ObjectBook) -> dict[str, Any]:
    return book.get("Deployment", "go-demo-7", "go-demo-7").manifest


def canary() -> Canary:
    [loaded] = load_text(canary_manifest(DEFAULT_ANALYSIS), kinds=LOCAL_RESOURCES).resources
    assert isinstance(loaded, Canary)
    return loaded


def test_a_change_of_tracked_content_alone_is_a_new_revision(book: ObjectBook) -> None:
    first = target_revision(book.store, target(book))
    book.apply(UNTRACKED.replace("'x'", "'y'"))
    assert target_revision(book.store, target(book)) == first  # opted out
    book.apply(config("creds", "b", kind="Secret"))
    second = target_revision(book.store, target(book))
    assert second != first
    book.apply(config("settings", "2"))
    assert target_revision(book.store, target(book)) not in (first, second)


def test_a_deployment_without_configs_keeps_its_manifest(book: ObjectBook) -> None:
    plain = {**target(book), "spec": {**target(book)["spec"], "template": {"spec": {}}}}
    assert with_config_revision(book.store, plain) is plain
    annotated = with_config_revision(book.store, target(book))
    assert CONFIG_REVISION in annotated["spec"]["template"]["metadata"]["annotations"]
    assert CONFIG_REVISION not in target(book)["spec"]["template"]["metadata"]["annotations"]


async def noop() -> None:
    return None


async def test_initialization_and_promotion_copy_the_tracked_configs(book: ObjectBook) -> None:
    workload = LocalWorkload(book.store, processes=None, sync=noop)  # type: ignore[arg-type]
    await workload.create_primary(canary())
    primary = book.get("Deployment", "go-demo-7", "go-demo-7-primary").manifest
    container = primary["spec"]["template"]["spec"]["containers"][0]
    assert container["env"][0]["valueFrom"]["configMapKeyRef"]["name"] == "settings-primary"
    assert [s.get("secretRef", s.get("configMapRef"))["name"] for s in container["envFrom"]] == [
        "creds-primary",
        "untracked",  # opted out: read as it is
    ]
    volume = primary["spec"]["template"]["spec"]["volumes"][0]
    assert volume["projected"]["sources"][0]["secret"]["name"] == "creds-primary"
    copy = book.get("ConfigMap", "go-demo-7", "settings-primary")
    assert copy.owner == "Canary/go-demo-7" and copy.manifest["data"] == {"V": "1"}
    assert book.get("Secret", "go-demo-7", "creds-primary").manifest["data"] == {"V": "YQ=="}
    assert book.store.get("ConfigMap", "go-demo-7", "untracked-primary") is None

    book.apply(config("settings", "2"))
    assert book.get("ConfigMap", "go-demo-7", "settings-primary").manifest["data"] == {"V": "1"}
    with pytest.raises(AdapterError, match="moved from revision"):
        await workload.promote(canary(), "an-analysed-revision")
    await workload.promote(canary(), target_revision(book.store, target(book)))
    assert book.get("ConfigMap", "go-demo-7", "settings-primary").manifest["data"] == {"V": "2"}


async def test_a_primary_copy_the_user_owns_is_not_overwritten(book: ObjectBook) -> None:
    book.apply(config("settings-primary", "mine"))
    workload = LocalWorkload(book.store, processes=None, sync=noop)  # type: ignore[arg-type]
    with pytest.raises(AdapterError, match=r"configmap settings-primary\.go-demo-7 exists"):
        await workload.create_primary(canary())
    assert book.get("ConfigMap", "go-demo-7", "settings-primary").manifest["data"] == {"V": "mine"}
