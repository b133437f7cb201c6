"""``snap-proxy db``: the database schema."""

from __future__ import annotations

import typer

from shared import migrate
from shared.cli.common import fail, settings_or_exit
from shared.preflight import PreflightError, database_label, wait_for_database

app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)


@app.command()
def upgrade(
    revision: str = typer.Argument("head", help="Schema revision to upgrade to."),
    wait: float = typer.Option(30.0, help="Seconds to wait for the database to answer."),
) -> None:
    """Apply the database migrations (run once after install and after every upgrade)."""
    settings = settings_or_exit()
    try:
        wait_for_database(settings, wait)
    except PreflightError as exc:
        fail(str(exc))
    migrate.upgrade(settings, revision)
    current = wait_for_database(settings, wait)
    typer.echo(f"database {database_label(settings)} is at schema revision {current}")
