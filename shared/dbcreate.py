"""``snap-proxy create-database``: what the guide's SQL does, for an admin with a PostgreSQL
superuser URL: a login role with ``CREATEROLE`` and a database that role owns (docs/database.md).

The role's password is the admin's (asked, never echoed); the server gets only its SCRAM
verifier. ``snap-proxy config proxy.db.connection=...`` then sets that database up.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import create_engine
from shared.dbsetup import quoted
from shared.pgpassword import scram_sha_256
from shared.settings import Settings

DEFAULT_USER = "snapproxy-user"
DEFAULT_DATABASE = "snapproxy-db"


class CreateDatabaseError(Exception):
    """The role or the database cannot be made; one line for the admin."""


@dataclass(frozen=True)
class Created:
    role_created: bool  # else: it existed, and got the new password
    database_created: bool  # else: it existed, owned by the role already


async def _superuser_check(connection: AsyncConnection) -> None:
    row = (
        await connection.execute(
            text(
                "SELECT current_user, rolsuper OR (rolcreaterole AND rolcreatedb) "
                "FROM pg_roles WHERE rolname = current_user"
            )
        )
    ).one()
    if not row[1]:
        raise CreateDatabaseError(
            f"database user {row[0]} may not create roles and databases: give a superuser's "
            "URL (or run docs/database.md's SQL as one)"
        )


async def create(url: URL, settings: Settings, user: str, database: str, password: str) -> Created:
    """The role ``user`` (LOGIN CREATEROLE, ``password``) and the database ``database`` it
    owns, on the server of ``url`` (a superuser's). Existing ones are kept (the role gets
    the password; a database must be the role's already)."""
    engine = create_engine(settings, application_name="snap-proxy-create-database", url=url)
    verifier = scram_sha_256(password)
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await _superuser_check(connection)
            role_exists = await connection.scalar(
                text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": user}
            )
            verb = "ALTER" if role_exists else "CREATE"
            await connection.exec_driver_sql(
                f"{verb} ROLE {quoted(user)} WITH LOGIN CREATEROLE PASSWORD '{verifier}'"
            )
            owner = await connection.scalar(
                text("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :d"),
                {"d": database},
            )
            if owner is not None and owner != user:
                raise CreateDatabaseError(
                    f"database {database} exists and belongs to {owner}, not {user}: "
                    f"ALTER DATABASE {quoted(database)} OWNER TO {quoted(user)}, or choose "
                    "another name with --database"
                )
            if owner is None:
                await connection.exec_driver_sql(
                    f"CREATE DATABASE {quoted(database)} OWNER {quoted(user)}"
                )
    finally:
        await engine.dispose()
    await _lock_public_schema(url.set(database=database), settings)
    return Created(role_created=not role_exists, database_created=owner is None)


async def _lock_public_schema(url: URL, settings: Settings) -> None:
    """Nobody but the owner makes tables in ``public`` (PostgreSQL 15's default; older
    servers let every role)."""
    engine = create_engine(settings, application_name="snap-proxy-create-database", url=url)
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    finally:
        await engine.dispose()


def create_database(
    url: URL, settings: Settings, user: str, database: str, password: str
) -> Created:
    try:
        return asyncio.run(create(url, settings, user, database, password))
    except CreateDatabaseError:
        raise
    except Exception as exc:
        from shared.pgconnect import first_line

        raise CreateDatabaseError(first_line(exc)) from None
