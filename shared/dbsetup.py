"""The Snap Store Proxy guide's database setup: ``snap-proxy config proxy.db.connection=URL``.

The URL's user is the database's owner, a login role with ``CREATEROLE`` (docs/database.md has
the guide's SQL; ``snap-proxy create-database`` makes it). Setting the key:

1. connects, asking for the password on an authentication failure (``shared.pgconnect``);
2. makes (or updates) one login role per service (``shared.dbroles.SERVICE_ROLES``), with
   a password that is generated once and kept in ``snapproxy.service_roles`` (only the owner
   reads it: a second node set up with the same database reuses the passwords);
3. in one transaction: migrates, lets each role use its own schema and nothing else (plus
   reading the configuration, the internal secret and the schema version), and stores the
   roles' passwords and the internal secret;
4. returns the owner's URL and the roles' credentials for this node's bootstrap file, where
   each service finds its own (``shared.dbroles``): services never connect as the owner.

Roles belong to the whole PostgreSQL server, not to one database: as with the Snap Store
Proxy, one snapproxy database per server (a second one would take the roles over).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared import migrate
from shared.config.hooks import Applied, ApplyContext, ConfigApplyError
from shared.db import SCHEMAS, create_engine
from shared.dbroles import ROLES_ENTRY, SERVICE_ROLES
from shared.pgconnect import ConnectError, connect_asking_password, first_line, plain_text
from shared.pgpassword import new_password, scram_sha_256
from shared.settings import Settings

SUITE_SCHEMA = SCHEMAS["suite"]
# What every service reads besides its own schema.
SHARED_READS = (f"{SUITE_SCHEMA}.config", f"{SUITE_SCHEMA}.suite_secrets", "alembic_version")
ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
RETRIES = 5  # another setup on the same server may be changing the same roles


@dataclass(frozen=True)
class ServiceRole:
    service: str
    role: str
    password: str

    @property
    def schema(self) -> str:
        return SCHEMAS[self.service]


def quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


async def _check_owner(connection: AsyncConnection) -> str:
    """The connection's user, if it may create roles (ConfigApplyError otherwise)."""
    row = (
        await connection.execute(
            text(
                "SELECT current_user, rolcreaterole OR rolsuper FROM pg_roles "
                "WHERE rolname = current_user"
            )
        )
    ).one()
    user, may_create_roles = str(row[0]), bool(row[1])
    if not may_create_roles:
        raise ConfigApplyError(
            f"database user {user} cannot create the services' roles: it needs CREATEROLE "
            "(docs/database.md has the SQL; `snap-proxy create-database` does it)"
        )
    return user


async def _known_passwords(connection: AsyncConnection) -> dict[str, str]:
    table = f"{SUITE_SCHEMA}.service_roles"
    if await connection.scalar(text("SELECT to_regclass(:t)"), {"t": table}) is None:
        return {}
    rows = await connection.execute(text(f"SELECT role, password FROM {table}"))
    return {str(role): str(password) for role, password in rows}


def _retryable(exc: DBAPIError) -> bool:
    """Another session created or changed the same role at the same moment."""
    reason = first_line(exc)
    return "concurrently" in reason or "already exists" in reason or "duplicate key" in reason


async def _ensure_role(engine: AsyncEngine, role: ServiceRole) -> None:
    """The role exists, may log in, and has this password (its own short transaction)."""
    verifier = scram_sha_256(role.password)
    for attempt in range(RETRIES):
        try:
            async with engine.connect() as connection:
                exists = await connection.scalar(
                    text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role.role}
                )
                # Only a superuser may name the superuser attributes in an ALTER ROLE.
                change = (
                    f"ALTER ROLE {quoted(role.role)} WITH LOGIN"
                    if exists
                    else f"CREATE ROLE {quoted(role.role)} WITH {ROLE_ATTRIBUTES}"
                )
                await connection.exec_driver_sql(f"{change} PASSWORD '{verifier}'")
                await connection.commit()
            return
        except DBAPIError as exc:
            if attempt + 1 == RETRIES or not _retryable(exc):
                raise ConfigApplyError(
                    f"cannot create or update the role {role.role}: {first_line(exc)}"
                ) from None
            await asyncio.sleep(random.uniform(0.05, 0.5))


def _grants(owner: str, role: ServiceRole) -> list[str]:
    """The role may use its own schema's tables and sequences, those made by later
    migrations too (default privileges of the owner), and read what every service reads."""
    name, schema = quoted(role.role), role.schema
    crud = "SELECT, INSERT, UPDATE, DELETE"
    return [
        f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {schema} TO {name}",
        f"GRANT {crud} ON ALL TABLES IN SCHEMA {schema} TO {name}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {name}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {quoted(owner)} IN SCHEMA {schema} "
        f"GRANT {crud} ON TABLES TO {name}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {quoted(owner)} IN SCHEMA {schema} "
        f"GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {name}",
        f"GRANT USAGE ON SCHEMA {SUITE_SCHEMA} TO {name}",
        *(f"GRANT SELECT ON {table} TO {name}" for table in SHARED_READS),
    ]


def _migrate_on(connection: Connection, settings: Settings) -> None:
    config = migrate.alembic_config(settings)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def set_up(url: URL, settings: Settings) -> list[ServiceRole]:
    """Roles, migrations, privileges and the roles' passwords, on the database of ``url``
    (the owner's); nothing in the database changes when it fails, but roles it made."""
    engine = create_engine(settings, application_name="snap-proxy-config", url=url)
    try:
        async with engine.connect() as connection:
            owner = await _check_owner(connection)
            known = await _known_passwords(connection)
        roles = [
            ServiceRole(service, role, known.get(role) or new_password())
            for service, role in SERVICE_ROLES.items()
        ]
        for role in roles:
            await _ensure_role(engine, role)
        async with engine.begin() as connection:
            await connection.run_sync(_migrate_on, settings)
            for role in roles:
                for statement in _grants(owner, role):
                    await connection.exec_driver_sql(statement)
            await connection.execute(
                text(
                    f"INSERT INTO {SUITE_SCHEMA}.service_roles (service, role, password) "
                    "VALUES (:service, :role, :password) ON CONFLICT (service) DO UPDATE "
                    "SET role = excluded.role, password = excluded.password"
                ),
                [vars(role) for role in roles],
            )
            await connection.execute(
                text(
                    f"INSERT INTO {SUITE_SCHEMA}.suite_secrets (name, value) VALUES "
                    "('internal', :value) ON CONFLICT (name) DO NOTHING"
                ),
                {"value": new_password()},
            )
        return roles
    finally:
        await engine.dispose()


def bootstrap_roles(roles: Sequence[ServiceRole]) -> dict[str, dict[str, str]]:
    return {r.service: {"role": r.role, "password": r.password} for r in roles}


def configure_database(value: str, context: ApplyContext) -> Applied:
    """The apply hook of ``proxy.db.connection``: the guide's flow on PostgreSQL; on SQLite,
    a connection that answers is enough (no roles there)."""
    try:
        url = connect_asking_password(
            value,
            context.settings,
            context.echo,
            context.prompt_secret if context.interactive else None,
        )
    except ConnectError as exc:
        raise ConfigApplyError(str(exc)) from None
    if url.get_backend_name() != "postgresql":
        return Applied(value)
    try:
        roles = asyncio.run(set_up(url, context.settings))
    except ConfigApplyError:
        raise
    except Exception as exc:
        raise ConfigApplyError(f"cannot set the database up: {first_line(exc)}") from None
    for role in roles:
        context.echo(f"Configured database for {role.role} role.")
    return Applied(plain_text(url), {ROLES_ENTRY: bootstrap_roles(roles)})
