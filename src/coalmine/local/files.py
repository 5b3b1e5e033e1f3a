"""The state directory is private: other users on the machine read no address or token."""

from __future__ import annotations

from pathlib import Path

__all__ = ["PRIVATE_DIR", "make_private_dir"]

PRIVATE_DIR = 0o700


def make_private_dir(path: Path) -> None:
    """Create `path` with mode 0700, or set 0700 on one an older coalmine made 0755."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR)
