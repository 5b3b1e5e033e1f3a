"""The command-line interface (typer). `coalmine.cli.main:run` is the console script."""
