"""`python -m coalmine.loadtester [--host H] [--port P] [--enable-commands]`.

The same as `coalmine loadtester`; the token comes from $COALMINE_LOADTESTER_TOKEN.
"""

from __future__ import annotations

import argparse
import os

from coalmine.loadtester.server import DEFAULT_PORT, serve
from coalmine.loadtester.tasks import TaskSettings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m coalmine.loadtester", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    parser.add_argument("--enable-commands", action="store_true", help="run cmd and bash tasks")
    arguments = parser.parse_args()
    token = os.environ.get("COALMINE_LOADTESTER_TOKEN") or None
    try:
        settings = TaskSettings(commands=arguments.enable_commands, token=token)
    except ValueError as error:
        parser.error(str(error))
    serve(arguments.host, arguments.port, settings)


if __name__ == "__main__":
    main()
