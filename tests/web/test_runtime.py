"""What the page header says of `coalmine up`: its state directory only when it is the
working directory's own, never an absolute path."""

from __future__ import annotations

from pathlib import Path

import pytest

from coalmine.web.runtime import _described


def test_the_header_names_a_state_dir_under_the_working_directory_relatively(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _described(tmp_path / ".coalmine") == "coalmine up (.coalmine)"
    assert _described(Path(".coalmine")) == "coalmine up (.coalmine)"
    assert _described(tmp_path.parent / "elsewhere") == "coalmine up"
