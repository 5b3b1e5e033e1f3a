"""`coalmine apply` and `coalmine delete`: change the objects of the local runtime."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from coalmine.cli.common import StateDir, client
from coalmine.cli.validate import manifest_paths

__all__ = ["apply", "delete"]

Files = Annotated[
    list[Path],
    typer.Option("-f", "--filename", help="A manifest file, a directory of them, or - for stdin."),
]


def _texts(files: list[Path]) -> list[tuple[str, str]]:
    """(text, source) of every manifest named, stdin included."""
    texts = []
    for path in files:
        if str(path) == "-":
            texts.append((sys.stdin.read(), "<stdin>"))
            continue
        for found in manifest_paths([path]):
            try:
                texts.append((found.read_text(), str(found)))
            except OSError as error:
                from coalmine.errors import CoalmineError

                raise CoalmineError(f"{found}: cannot read: {error.strerror}") from None
            except UnicodeDecodeError as error:
                from coalmine.errors import CoalmineError

                raise CoalmineError(f"{found}: not UTF-8 text: {error.reason}") from None
    return texts


def apply(files: Files, state_dir: StateDir) -> None:
    """Create or update objects in the local runtime (Deployment, Service, Gateway,
    VirtualService, DestinationRule, Canary, MetricTemplate, AlertProvider).

    All documents of a file are checked together and applied together: if one is
    wrong, nothing is applied and every problem is listed.

    Example:  coalmine apply -f examples/local/go-demo-7.yaml
    """
    local = client(state_dir)
    texts = _texts(files)
    combined = "\n---\n".join(text for text, _ in texts)
    for result in local.apply(combined, ", ".join(source for _, source in texts)):
        typer.echo(f"{result['kind'].lower()}/{result['name']} {result['action']}")


def delete(files: Files, state_dir: StateDir) -> None:
    """Delete the objects a manifest names from the local runtime.

    Example:  coalmine delete -f examples/local/go-demo-7.yaml
    """
    local = client(state_dir)
    for text, source in _texts(files):
        for result in local.delete(text, source):
            typer.echo(f"{result['kind'].lower()}/{result['name']} deleted")
