"""coalmine: canary deployments that decide for themselves.

Importing this package stays light: the CLI, the operator and the local runtime
import what they need when they run.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
