"""Atomic file replacement, the only way Envoy's file-based xDS picks up a change.

Envoy watches the directory for files moved into it; an in-place edit is ignored, and a
half-written file would be read half-written. So: write a temporary file in the same
directory, fsync it, rename it over the old one, fsync the directory.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["read_json", "replace_atomically", "write_json_atomically"]


def replace_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_json_atomically(path: Path, document: Any) -> None:
    replace_atomically(path, json.dumps(document, indent=1, sort_keys=True).encode())


def read_json(path: Path) -> Any:
    """The document at `path`, or None when there is no file."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
