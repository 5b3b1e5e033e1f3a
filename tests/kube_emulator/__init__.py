"""An in-process Kubernetes API emulator for tests: the real REST protocol, in memory.

Use the `kube_emulator` fixture (tests/fixtures/kube.py) or `KubeEmulator` directly.
The module docstrings say what each rule does and where it differs from a real server;
docs/kube-emulator.md is the overview.
"""

from .errors import ApiError, FieldError
from .server import KubeEmulator, RecordedRequest

__all__ = ["ApiError", "FieldError", "KubeEmulator", "RecordedRequest"]
