"""``snap-proxy db``: the database schema."""

from __future__ import annotations

import time

import typer
from alembic.script import ScriptDirectory
from alembic.util import CommandError

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


@app.command("wait")
def wait_for_schema(
    timeout: float = typer.Option(600.0, help="Seconds to wait before giving up (exit 1)."),
    interval: float = typer.Option(2.0, help="Seconds between two looks at the database."),
) -> None:
    """Wait until the database answers and is at the schema revision this version needs;
    it migrates nothing (`db upgrade` does). A revision this version does not know (a newer
    snapproxy migrated the database) ends it at once with exit 1."""
    settings = settings_or_exit()
    scripts = ScriptDirectory.from_config(migrate.alembic_config(settings))
    head = scripts.get_current_head()
    label = database_label(settings)
    deadline = time.monotonic() + timeout
    said = ""
    while True:
        try:
            current = wait_for_database(settings, 0)
        except PreflightError as exc:
            state = str(exc)
        else:
            if current == head:
                typer.echo(f"database {label} is at schema revision {head}")
                return
            if current is not None and not _known(scripts, current):
                fail(
                    f"the database ({label}) is at schema revision {current}, which this "
                    f"version does not know (it needs {head}): a newer snapproxy migrated it"
                )
            state = (
                f"the database ({label}) is at schema revision {current}, not {head}: "
                "waiting for `snap-proxy db upgrade`"
            )
        if state != said:
            typer.echo(state)
            said = state
        if time.monotonic() >= deadline:
            fail(f"gave up after {timeout:g} s: {state}")
        time.sleep(interval)


def _known(scripts: ScriptDirectory, revision: str) -> bool:
    try:
        return scripts.get_revision(revision) is not None
    except CommandError:
        return False


@app.command("migrate-to")
def migrate_to(
    url: str = typer.Argument(
        ...,
        metavar="URL",
        help="The PostgreSQL database, as for proxy.db.connection: "
        "postgresql://snapproxy-user@localhost:5432/snapproxy-db",
    ),
) -> None:
    """Move this node from SQLite (the embedded default) to PostgreSQL.

    Sets the database up as `snap-proxy config proxy.db.connection=URL` does (asking for the
    password, making the services' roles, migrating), copies every table's rows into it, then
    sets proxy.db.connection. Stop `snap-proxy serve` first; the SQLite file is left as it
    was."""
    from shared.cli.migrate_to import migrate_node

    migrate_node(url)
