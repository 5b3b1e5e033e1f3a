"""Every page of docs/guide runs as written: its commands, their exit codes, their output.

One test per page (chapter 01 included: every docs/guide/*.md is found), each against a
fresh `coalmine up` of its own. Cluster-only blocks are checked without a cluster in a
test of their own (tests/guide/cluster.py says how).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from coalmine.metrics.prometheus_server import free_port
from coalmine.testing.up import UpProcess
from tests.guide.blocks import Block, Kind, PageError, parse_page
from tests.guide.cluster import check_cluster_block
from tests.guide.runner import REPO, Shell, up_options

PAGES = sorted((REPO / "docs" / "guide").glob("*.md"))


def page_id(page: Path) -> str:
    return page.name


def test_the_guide_has_its_pages() -> None:
    names = {page.name for page in PAGES}
    assert {"README.md", "02-installing.md", "07-continuous-delivery.md"} <= names, names


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_cluster_blocks_hold_together(page: Path, tmp_path: Path) -> None:
    shell = Shell(tmp_path / "work", tmp_path / "state", "127.0.0.1:1")
    for block in parse_page(page):
        if block.kind is Kind.CLUSTER:
            assert check_cluster_block(block, shell), f"{block.where}: no command in the block"


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("page", PAGES, ids=page_id)
async def test_page_runs_as_written(page: Path, tmp_path: Path) -> None:
    blocks = parse_page(page)
    ups = [block for block in blocks if block.kind is Kind.UP]
    runs = [block for block in blocks if block.kind is Kind.RUN]
    if len(ups) > 1:
        raise PageError(f"{ups[1].where}: one `sh up` block a page")
    if ups and ups[0].line > min((b.line for b in runs), default=ups[0].line):
        raise PageError(f"{ups[0].where}: the `sh up` block comes before the run blocks")
    if not runs:
        return
    gateway = f"127.0.0.1:{free_port()}"
    shell = Shell(tmp_path / "work", tmp_path / "state", gateway)
    up = _up(ups[0], shell) if ups else None
    try:
        if up is not None:
            await up.start()
        for block in runs:
            await asyncio.to_thread(shell.run, block)
    finally:
        shell.close()
        if up is not None and up.process is not None:
            await up.stop()


def _up(block: Block, shell: Shell) -> UpProcess:
    """The page's `coalmine up`, with the runner's state directory and gateway."""
    port = int(shell.gateway.rsplit(":", 1)[1])
    return UpProcess(shell.state_dir, gateway_port=port, args=up_options(block))
