from pathlib import Path

import pytest

from coalmine.api.canary import ThresholdRange
from coalmine.engine.decision import CheckResult
from coalmine.local.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "state.db")


def test_objects_survive_reopening(tmp_path: Path) -> None:
    first = Store(tmp_path / "state.db")
    first.put("Deployment", "demo", "app", {"spec": {"replicas": 2}}, owner=None)
    first.write_status("Deployment", "demo", "app", {"scale": 0})
    first.close()
    again = Store(tmp_path / "state.db")
    stored = again.get("Deployment", "demo", "app")
    assert stored is not None
    assert stored.manifest == {"spec": {"replicas": 2}}
    assert stored.status == {"scale": 0}


def test_generation_moves_with_the_manifest_not_the_status(store: Store) -> None:
    a = store.put("Canary", "demo", "app", {"spec": 1}, owner=None)
    store.write_status("Canary", "demo", "app", {"phase": "Progressing"})
    b = store.put("Canary", "demo", "app", {"spec": 1}, owner=None)
    c = store.put("Canary", "demo", "app", {"spec": 2}, owner=None)
    assert (a.generation, b.generation, c.generation) == (1, 1, 2)
    assert c.status == {"phase": "Progressing"}  # a new manifest keeps the status
    assert a.revision < b.revision < c.revision


def test_a_failed_transaction_writes_nothing(store: Store) -> None:
    def half_way() -> None:
        with store.transaction():
            store.put("Service", "demo", "a", {}, owner=None)
            raise RuntimeError("half-way")

    with pytest.raises(RuntimeError):
        half_way()
    assert store.objects() == []


def test_list_filters_and_delete(store: Store) -> None:
    store.put("Service", "demo", "a", {}, owner=None)
    store.put("Service", "other", "b", {}, owner="Canary/x")
    store.put("Deployment", "demo", "a", {}, owner=None)
    assert [o.key for o in store.objects("Service")] == [
        ("Service", "demo", "a"),
        ("Service", "other", "b"),
    ]
    assert [o.name for o in store.objects(namespace="demo")] == ["a", "a"]
    assert store.delete("Service", "demo", "a") is True
    assert store.delete("Service", "demo", "a") is False
    with pytest.raises(KeyError):
        store.write_status("Service", "demo", "a", {})


def test_events_in_order_with_paging(store: Store) -> None:
    for i in range(5):
        store.add_event("Canary", "demo", "app", "Normal", "Synced", f"m{i}")
    store.add_event("Canary", "demo", "other", "Warning", "Synced", "elsewhere")
    events = store.events("demo", "app")
    assert [e.message for e in events] == ["m0", "m1", "m2", "m3", "m4"]
    assert [e.message for e in store.events("demo", "app", limit=2)] == ["m3", "m4"]
    assert [e.message for e in store.events(after=events[3].id)] == ["m4", "elsewhere"]


def test_checks_keep_what_each_check_saw(store: Store) -> None:
    check = CheckResult("request-success-rate", 92.5, ThresholdRange(min=99), False, "", "q")
    nodata = CheckResult("request-duration", None, ThresholdRange(max=500), False, "no data", "q2")
    store.add_checks("demo", "app", "rev1", [check, nodata])
    [first, second] = store.checks("demo", "app")
    assert (first.metric, first.value, first.min, first.passed) == (
        "request-success-rate",
        92.5,
        99.0,
        False,
    )
    assert (second.value, second.reason, second.query) == (None, "no data", "q2")


def test_the_database_and_its_wal_are_private(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.touch(mode=0o644)
    path.chmod(0o644)  # as an older coalmine left it
    store = Store(path)
    store.put("AlertProvider", "demo", "slack", {"spec": {"address": "x"}}, owner=None)
    for part in ("state.db", "state.db-wal", "state.db-shm"):
        assert (tmp_path / part).stat().st_mode & 0o777 == 0o600, part
    store.close()


def test_a_quarantined_object_is_kept_apart_until_released(store: Store) -> None:
    store.put("VirtualService", "demo", "bad", {"spec": {"x": 1}}, owner=None)
    store.put("Service", "demo", "good", {"spec": {}}, owner=None)
    store.quarantine("VirtualService", "demo", "bad", reason="regex refused")
    assert [o.name for o in store.objects()] == ["good"]
    [found] = store.quarantined()
    assert (found.kind_key, found.manifest, found.reason) == (
        ("VirtualService", "demo", "bad"),
        {"spec": {"x": 1}},
        "regex refused",
    )
    assert "apply it again" in found.fix
    assert store.release("VirtualService", "demo", "bad")
    assert store.quarantined() == []
