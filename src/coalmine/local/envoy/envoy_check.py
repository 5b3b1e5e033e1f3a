"""Ask Envoy itself whether it accepts a configuration, before any file it reads changes.

`envoy --mode validate` parses a bootstrap and builds every listener, route and cluster
without binding ports or connecting (about 30 ms). It does not load dynamic resources,
so the candidate is rendered as static resources (`render.validation_bootstrap`). It
catches what the model's checks leave to Envoy: RE2 regex syntax, header names Envoy
refuses to touch, anything its proto validation rejects.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from coalmine.errors import EnvoyRejected, Problem, Unavailable

__all__ = ["envoy_validate"]

_REASON = re.compile(r"error initializing configuration '[^']*':\s*(?P<reason>.*)", re.DOTALL)
_TIMEOUT_S = 30.0


async def envoy_validate(envoy: str, bootstrap: dict[str, Any], scratch_dir: Path) -> None:
    """Raise EnvoyRejected with Envoy's reason when it refuses `bootstrap`."""
    path = _write_candidate(bootstrap, scratch_dir)
    try:
        code, output = await _run(envoy, path)
    finally:
        os.unlink(path)
    if code != 0:
        raise EnvoyRejected(
            [Problem("envoy data plane", "", f"Envoy rejected it: {_reason(output)}")]
        )


def _write_candidate(bootstrap: dict[str, Any], scratch_dir: Path) -> Path:
    scratch_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", suffix=".json", prefix="validate-", dir=scratch_dir, delete=False
    ) as stream:
        json.dump(bootstrap, stream)
        return Path(stream.name)


async def _run(envoy: str, path: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *(envoy, "--mode", "validate", "-c", str(path), "--log-level", "critical"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        # asyncio.timeout, not wait_for: in Python 3.11 wait_for can swallow a cancellation
        # that arrives as the process ends, and the caller (a canary's tick) then runs on.
        async with asyncio.timeout(_TIMEOUT_S):
            output, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise Unavailable(f"envoy --mode validate took more than {_TIMEOUT_S:.0f}s") from None
    except asyncio.CancelledError:
        if process.returncode is None:
            process.kill()
        raise
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


def _reason(output: str) -> str:
    found = _REASON.search(output)
    text = found.group("reason") if found else output
    return " ".join(text.split()) or "(Envoy printed no reason)"
