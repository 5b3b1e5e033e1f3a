"""`python -m coalmine` is the `coalmine` command."""

from coalmine.cli.main import run

run()
