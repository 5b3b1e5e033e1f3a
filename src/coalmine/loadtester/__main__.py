"""`python -m coalmine.loadtester [--host H] [--port P]`: the same as `coalmine loadtester`."""

from __future__ import annotations

import argparse

from coalmine.loadtester.server import DEFAULT_PORT, serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m coalmine.loadtester", description=__doc__)
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on")  # noqa: S104
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    arguments = parser.parse_args()
    serve(arguments.host, arguments.port)


if __name__ == "__main__":
    main()
