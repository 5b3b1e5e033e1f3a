"""`coalmine validate`: check manifests before they meet a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Mapping

    from coalmine.api.loading import Kind, LoadedFile
    from coalmine.errors import Problem

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
    min_interval: Annotated[
        str,
        typer.Option(
            help="Lowest analysis.interval accepted: the --min-interval of the controller"
            " or of `coalmine up` that will run these canaries (Flagger's 10s by default)."
        ),
    ] = "10s",
) -> None:
    """Check Canary, MetricTemplate and AlertProvider manifests.

    Every problem names the document, the field and what is allowed. Files written
    for Flagger (apiVersion flagger.app/v1beta1) are accepted as they are. Metric
    queries are checked too: unknown {{ variables }}, and templateVariables that a
    Canary's template (when it is among the files) needs but does not get. Other kinds
    are skipped, unless --local asks to check them against what `coalmine up` supports;
    then the routes they make are also validated by Envoy itself, as `apply` does.
    analysis.interval is checked against --min-interval, the floor of the runtime that
    will run the canaries (the CRD itself checks only that it is a duration).
    Exit code 0 when all is valid, 1 when anything is not.

    Example:  coalmine validate -f examples/canaries/ -f my-canary.yaml
    """
    from functools import partial

    from coalmine.api.common import parse_duration
    from coalmine.api.interval_floor import interval_problems
    from coalmine.api.loading import CUSTOM_RESOURCES, LOCAL_RESOURCES, load_file
    from coalmine.errors import CoalmineError
    from coalmine.metrics.validation import check_metric_queries

    try:
        floor = parse_duration(min_interval)
    except ValueError as error:
        raise CoalmineError(f"--min-interval: {error}") from None
    kinds = LOCAL_RESOURCES if local else CUSTOM_RESOURCES
    floor_check = partial(interval_problems, floor=floor)
    loaded_files = [
        (path, load_file(path, kinds=kinds, skip_other_kinds=not local, checks=[floor_check]))
        for path in manifest_paths(files)
    ]
    query_problems = check_metric_queries(
        resource for _, loaded in loaded_files for resource in loaded.resources
    )
    if local and not any(loaded.problems for _, loaded in loaded_files):
        query_problems += _envoy_problems(
            [r for _, loaded in loaded_files for r in loaded.resources]
        )
    faulty = {problem.document for problem in query_problems}
    problems = len(query_problems)
    for path, loaded in loaded_files:
        problems += _report(path, loaded, faulty, kinds, quiet=quiet)
    for problem in query_problems:
        typer.secho(str(problem), fg=typer.colors.RED, err=True)
    documents = sum(loaded.documents for _, loaded in loaded_files)
    if problems:
        summary = f"{problems} problem(s) in {documents} document(s)"
        typer.secho(summary, fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    if not quiet:
        typer.echo(f"{documents} document(s) valid")


def _envoy_problems(resources: list[Any]) -> list[Problem]:
    """What Envoy itself refuses in these objects (as `coalmine up` would translate them)."""
    import asyncio
    import tempfile

    from coalmine.local.admission import envoy_problems

    with tempfile.TemporaryDirectory(prefix="coalmine-validate-") as scratch:
        return asyncio.run(envoy_problems(resources, Path(scratch)))


def _report(
    path: Path, loaded: LoadedFile, faulty: set[str], kinds: Mapping[str, Kind], *, quiet: bool
) -> int:
    """Print one file's problems (and, unless quiet, its valid resources, named by their
    stored kind: `gateway.gateway.networking.k8s.io` is the Gateway API's); count problems."""
    from coalmine.api.loading import stored_kind

    for problem in loaded.problems:
        typer.secho(str(problem), fg=typer.colors.RED, err=True)
    if not quiet:
        for resource in loaded.resources:
            name = getattr(getattr(resource, "metadata", None), "name", "?")
            if f"{type(resource).__name__.lower()} {name}" not in faulty:
                typer.echo(f"{path}: {stored_kind(resource, kinds).lower()} {name} is valid")
        for label in loaded.skipped:
            typer.echo(f"{path}: {label} skipped (not a coalmine resource; see --local)")
    return len(loaded.problems)
