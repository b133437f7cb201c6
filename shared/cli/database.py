"""``snap-proxy create-database``: the guide's database template, made with a superuser URL."""

from __future__ import annotations

import sys

import typer

from shared.cli.common import ask_secret, fail, settings_or_exit
from shared.dbcreate import DEFAULT_DATABASE, DEFAULT_USER, CreateDatabaseError, create_database
from shared.pgconnect import ConnectError, connect_asking_password, shown


def _new_password(user: str) -> str:
    try:
        password = ask_secret(f"Password for the new database user {user}: ")
        if sys.stdin.isatty() and ask_secret("The same password again: ") != password:
            fail("the two passwords differ; nothing was changed", 2)
    except EOFError:
        fail(f"no password given for database user {user}; nothing was changed", 2)
    if not password:
        fail("the password is empty; nothing was changed", 2)
    return password


def create_database_command(
    superuser_url: str = typer.Argument(
        ...,
        metavar="SUPERUSER_URL",
        help="A PostgreSQL superuser's URL, e.g. postgresql://postgres@localhost:5432/postgres "
        "(the password is asked for if the server wants one).",
    ),
    user: str = typer.Option(DEFAULT_USER, help="The database user to create (its owner)."),
    database: str = typer.Option(DEFAULT_DATABASE, help="The database to create."),
) -> None:
    """Create snapproxy's database user and database, as the guide's SQL does.

    A login role with CREATEROLE (it makes each service's role) that owns a new database, as
    in docs/database.md. Asks for the new user's password (no echo; a line of stdin when it is
    not a terminal). Then run the `snap-proxy config proxy.db.connection=...` line it prints."""
    settings = settings_or_exit()
    try:
        url = connect_asking_password(superuser_url, settings, typer.echo, ask_secret)
    except ConnectError as exc:
        fail(str(exc))
    password = _new_password(user)
    try:
        created = create_database(url, settings, user, database, password)
    except CreateDatabaseError as exc:
        fail(str(exc))
    role = "Created" if created.role_created else "Set the password of"
    base = "created" if created.database_created else "kept"
    typer.echo(
        f"{role} database user {user} (LOGIN, CREATEROLE); database {database}, "
        f"owned by it, {base}."
    )
    target = url.set(username=user, password=None, database=database)
    typer.echo(f'Next: snap-proxy config proxy.db.connection="{shown(target)}"')


def register(app: typer.Typer) -> None:
    app.command("create-database")(create_database_command)
