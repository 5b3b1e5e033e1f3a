"""The CLI's start-up does not pay for the judge's or the benchmark's heavy imports."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "scipy", "kopf", "kr8s", "aiohttp")


def test_help_and_simulate_help_import_no_heavy_module() -> None:
    code = (
        "import sys\n"
        "from coalmine.cli.main import app\n"
        "from typer.testing import CliRunner\n"
        "for args in (['--help'], ['simulate', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0\n"
        "import coalmine.judge, coalmine.engine.decide\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stdout
