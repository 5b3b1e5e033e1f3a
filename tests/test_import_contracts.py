"""The import-linter contracts in pyproject.toml stay complete as packages are added.

A `forbidden` contract names what it forbids, so a new top-level package would be
allowed into the engine silently; this test fails until the contract lists it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "coalmine"
ENGINE_MAY_IMPORT = {"coalmine.engine", "coalmine.judge", "coalmine.api", "coalmine.errors"}
"""The core: the engine, the judge it asks, the models it reads, the errors it raises."""


def contracts() -> list[dict[str, Any]]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        found: list[dict[str, Any]] = tomllib.load(file)["tool"]["importlinter"]["contracts"]
    return found


def contract(name_starts: str) -> dict[str, Any]:
    (found,) = [c for c in contracts() if c["name"].startswith(name_starts)]
    return found


def top_level_modules() -> set[str]:
    names = {
        path.stem for path in PACKAGE.glob("*.py") if path.stem not in ("__init__", "__main__")
    }
    names |= {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    return {f"coalmine.{name}" for name in names}


def test_the_engine_contract_forbids_every_package_outside_the_core() -> None:
    forbidden = set(contract("The engine (with the judge")["forbidden_modules"])
    assert forbidden == top_level_modules() - ENGINE_MAY_IMPORT


def test_every_router_is_in_the_independence_contract() -> None:
    routers = {
        f"coalmine.routers.{path.stem}"
        for path in (PACKAGE / "routers").glob("*.py")
        if path.stem not in ("__init__", "registry", "services", "local_store")
    }  # services, local_store: what the Kubernetes (the local) routers share, no router
    assert set(contract("The routers are independent")["modules"]) == routers


def test_every_metric_provider_is_in_the_independence_contract() -> None:
    folder = PACKAGE / "metrics" / "providers"
    providers = {path.stem for path in folder.glob("*.py")} | {
        path.name for path in folder.iterdir() if (path / "__init__.py").exists()
    }
    providers -= {"__init__", "base", "registry", "sessions"}  # what providers share, no provider
    modules = {f"coalmine.metrics.providers.{name}" for name in providers}
    assert set(contract("The metric providers are independent")["modules"]) == modules


def test_no_type_checking_import_breaks_a_cycle() -> None:
    """An import under `TYPE_CHECKING` may keep a command's start-up light (the CLI's),
    never hide a cycle: the imported module must not import the importer back."""
    import grimp

    graph = grimp.build_graph("coalmine", exclude_type_checking_imports=True, cache_dir=None)
    cycles = set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if "if TYPE_CHECKING:" not in text:
            continue
        importer = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        importer = importer.removesuffix(".__init__")
        for imported in re.findall(r"from (coalmine[\w.]*) import", _type_checking_block(text)):
            if graph.find_shortest_chain(importer=imported, imported=importer):
                cycles.add((importer, imported))
    assert cycles == set()


def _type_checking_block(text: str) -> str:
    """The indented lines under `if TYPE_CHECKING:` (blank lines included)."""
    lines = []
    for line in text.split("if TYPE_CHECKING:", 1)[1].splitlines()[1:]:
        if line and not line.startswith(" "):
            break
        lines.append(line)
    return "\n".join(lines)
