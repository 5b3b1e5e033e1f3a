"""`coalmine validate`: check manifests before they meet a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["manifest_paths", "validate"]

FILES_HELP = "A manifest file or a directory of them (*.yaml, *.yml); repeatable."


def manifest_paths(paths: list[Path]) -> list[Path]:
    """Files named, and the YAML files inside directories named, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")))
        else:
            found.append(path)
    return found


def validate(
    files: Annotated[list[Path], typer.Option("-f", "--filename", help=FILES_HELP)],
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Also check Deployments, Services and Istio objects for the local runtime.",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print problems only.")] = False,
) -> None:
    """Check Canary, MetricTemplate and AlertProvider manifests.

    Every problem names the document, the field and what is allowed. Files written
    for Flagger (apiVersion flagger.app/v1beta1) are accepted as they are. Other kinds
    are skipped, unless --local asks to check them against what `coalmine up` supports.
    Exit code 0 when all is valid, 1 when anything is not.

    Example:  coalmine validate -f examples/canaries/ -f my-canary.yaml
    """
    from coalmine.api.loading import CUSTOM_RESOURCES, LOCAL_RESOURCES, load_file

    kinds = LOCAL_RESOURCES if local else CUSTOM_RESOURCES
    problems = 0
    documents = 0
    for path in manifest_paths(files):
        loaded = load_file(path, kinds=kinds, skip_other_kinds=not local)
        documents += loaded.documents
        for problem in loaded.problems:
            typer.secho(str(problem), fg=typer.colors.RED, err=True)
        problems += len(loaded.problems)
        if not quiet:
            for resource in loaded.resources:
                kind = resource.__class__.__name__.lower()
                name = getattr(getattr(resource, "metadata", None), "name", "?")
                typer.echo(f"{path}: {kind} {name} is valid")
            for label in loaded.skipped:
                typer.echo(f"{path}: {label} skipped (not a coalmine resource; see --local)")
    if problems:
        summary = f"{problems} problem(s) in {documents} document(s)"
        typer.secho(summary, fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    if not quiet:
        typer.echo(f"{documents} document(s) valid")
