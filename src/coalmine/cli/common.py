"""Options and helpers shared by the commands that talk to a running `coalmine up`."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from coalmine.local.client import LocalClient

__all__ = [
    "AllNamespaces",
    "Namespace",
    "StateDir",
    "age",
    "client",
    "default_state_dir",
    "table",
]


def default_state_dir() -> Path:
    return Path(os.environ.get("COALMINE_STATE_DIR", ".coalmine"))


StateDir = Annotated[
    Path,
    typer.Option(
        "--state-dir",
        help="State directory of the local runtime (env COALMINE_STATE_DIR).",
        default_factory=default_state_dir,
        show_default=".coalmine",
    ),
]
Namespace = Annotated[
    str,
    typer.Option(
        "-n", "--namespace", envvar="COALMINE_NAMESPACE", help="Namespace (env COALMINE_NAMESPACE)."
    ),
]
AllNamespaces = Annotated[bool, typer.Option("-A", "--all-namespaces", help="Every namespace.")]


def client(state_dir: Path) -> LocalClient:
    from coalmine.local.client import LocalClient

    return LocalClient(state_dir)


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns aligned like kubectl's: upper-case headers, three spaces between columns."""
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)
    ]
    lines = [
        "   ".join(
            str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)
        ).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


def age(when: str | datetime | None, now: datetime | None = None) -> str:
    """Kubernetes-style age: 45s, 3m, 2h, 5d."""
    if when is None:
        return "<none>"
    moment = datetime.fromisoformat(when) if isinstance(when, str) else when
    seconds = max(int(((now or datetime.now(UTC)) - moment).total_seconds()), 0)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 2 * 3600:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
