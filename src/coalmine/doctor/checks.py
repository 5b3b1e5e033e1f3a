"""One line of `coalmine doctor`: what was checked, whether it holds, and the fix if not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Check", "render", "verdict"]

State = Literal["ok", "fail", "note"]


@dataclass(frozen=True)
class Check:
    name: str
    state: State
    """ok; fail (the exit code says so); note (optional, never fails the doctor)."""
    detail: str = ""
    fix: str = ""

    @classmethod
    def ok(cls, name: str, detail: str = "") -> Check:
        return cls(name, "ok", detail)

    @classmethod
    def fail(cls, name: str, detail: str, fix: str) -> Check:
        return cls(name, "fail", detail, fix)

    @classmethod
    def note(cls, name: str, detail: str, fix: str = "") -> Check:
        return cls(name, "note", detail, fix)


MARKS = {"ok": "OK  ", "fail": "FAIL", "note": "--  "}


def render(checks: list[Check]) -> str:
    """`OK    name: detail`, and under a failing line `      fix: ...`."""
    lines = []
    for check in checks:
        detail = f": {check.detail}" if check.detail else ""
        lines.append(f"{MARKS[check.state]}  {check.name}{detail}")
        if check.fix:
            lines.append(f"      fix: {check.fix}")
    return "\n".join(lines)


def verdict(checks: list[Check]) -> int:
    """0 when nothing failed, else 1."""
    return 1 if any(c.state == "fail" for c in checks) else 0
