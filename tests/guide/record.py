"""Run a guide page and print what each run block printed, to paste into the page.

    python -m tests.guide.record docs/guide/04-manual-canary.md [--keep DIR]

With --keep, the blocks run in DIR/work and it stays (scripts/guide-charts draws the
guide's charts from the reports chapter 6 writes there).

The same runtime and shell as the test (tests/guide/test_pages.py), without the checks:
each block's exit code and output are printed, with the runner's gateway address put
back to the reader's 127.0.0.1:8080.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
from pathlib import Path

from coalmine.metrics.prometheus_server import free_port
from coalmine.testing.up import UpProcess
from tests.guide.blocks import Kind, parse_page
from tests.guide.runner import READER_GATEWAY, Shell, up_options


async def record(page: Path, keep: Path | None = None) -> None:
    blocks = parse_page(page)
    with contextlib.ExitStack() as stack:
        scratch = keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        port = free_port()
        shell = Shell(Path(scratch) / "work", Path(scratch) / "state", f"127.0.0.1:{port}")
        ups = [block for block in blocks if block.kind is Kind.UP]
        up = UpProcess(shell.state_dir, port, args=up_options(ups[0])) if ups else None
        try:
            if up is not None:
                await up.start()
            for block in blocks:
                if block.kind is Kind.RUN:
                    code, output = await asyncio.to_thread(shell.execute, block)
                    print(f"== {block.where} exit {code}\n{block.code}\n--")
                    print(output.replace(shell.gateway, READER_GATEWAY), flush=True)
        finally:
            shell.close()
            if up is not None and up.process is not None:
                await up.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("--keep", type=Path, help="run in DIR/work and keep it")
    arguments = parser.parse_args()
    asyncio.run(record(arguments.page, arguments.keep))
