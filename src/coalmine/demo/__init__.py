"""The demo service (coalmine's go-demo-7): what the workshop ships, measures and rolls back.

`create_app` builds the aiohttp app (for tests and embedding); `serve` runs it as
a process the way local-mode Deployments and the container image do.
"""

from coalmine.demo.app import create_app
from coalmine.demo.server import serve
from coalmine.demo.settings import DemoSettings

__all__ = ["DemoSettings", "create_app", "serve"]
