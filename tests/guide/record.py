"""Run a guide page and print what each run block printed, to paste into the page.

    python -m tests.guide.record docs/guide/04-manual-canary.md

The same runtime and shell as the test (tests/guide/test_pages.py), without the checks:
each block's exit code and output are printed, with the runner's gateway address put
back to the reader's 127.0.0.1:8080.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from coalmine.metrics.prometheus_server import free_port
from coalmine.testing.up import UpProcess
from tests.guide.blocks import Kind, parse_page
from tests.guide.runner import READER_GATEWAY, Shell, up_options


async def record(page: Path) -> None:
    blocks = parse_page(page)
    with tempfile.TemporaryDirectory() as scratch:
        port = free_port()
        shell = Shell(Path(scratch) / "work", Path(scratch) / "state", f"127.0.0.1:{port}")
        up = None
        for block in blocks:
            if block.kind is Kind.UP:
                up = UpProcess(shell.state_dir, gateway_port=port, args=up_options(block))
                await up.start()
        try:
            for block in blocks:
                if block.kind is Kind.RUN:
                    code, output = await asyncio.to_thread(shell.execute, block)
                    print(f"== {block.where} exit {code}\n{block.code}\n--")
                    print(output.replace(shell.gateway, READER_GATEWAY), flush=True)
        finally:
            shell.close()
            if up is not None:
                await up.stop()


if __name__ == "__main__":
    asyncio.run(record(Path(sys.argv[1])))
