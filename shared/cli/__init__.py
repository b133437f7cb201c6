"""The ``snap-proxy`` command line."""

from __future__ import annotations

import sys

import typer

from shared.cli import cache, db, run, status

app = typer.Typer(
    name="snap-proxy",
    help="snapproxy: a self-hosted Snap Store proxy and download cache.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
run.register(app)
status.register(app)
app.add_typer(db.app, name="db")
app.add_typer(cache.app, name="cache")


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
