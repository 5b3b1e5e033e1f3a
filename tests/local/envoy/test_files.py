"""Atomic replacement: a new inode moved into place, no temporary file left behind."""

from __future__ import annotations

from pathlib import Path

from coalmine.local.envoy.files import read_json, write_json_atomically


def test_replaces_by_rename_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "routes" / "gateway.json"
    write_json_atomically(target, {"version": 1})
    first_inode = target.stat().st_ino

    write_json_atomically(target, {"version": 2})

    assert read_json(target) == {"version": 2}
    assert target.stat().st_ino != first_inode, "the file was edited in place"
    assert [p.name for p in target.parent.iterdir()] == ["gateway.json"]


def test_reading_a_missing_file_is_none(tmp_path: Path) -> None:
    assert read_json(tmp_path / "nothing.json") is None
