"""Atomic file replacement, the only way Envoy's file-based xDS picks up a change.

Envoy watches the directory for files moved into it; an in-place edit is ignored, and a
half-written file would be read half-written. So: write a temporary file in the same
directory, rename it over the old one. `durable` adds an fsync of the file and of the
directory (about 15 ms on this shared disk): the xDS files do not need it, since Envoy
reads them through the page cache and, after a machine crash, Envoy starts afresh from
files that coalmine writes again from its store; the weight change stays fast.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["read_json", "replace_atomically", "write_json_atomically"]


def replace_atomically(path: Path, content: bytes, *, durable: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if not durable:
        return
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_json_atomically(path: Path, document: Any, *, durable: bool = True) -> None:
    content = json.dumps(document, indent=1, sort_keys=True).encode()
    replace_atomically(path, content, durable=durable)


def read_json(path: Path) -> Any:
    """The document at `path`, or None when there is no file."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
