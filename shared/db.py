"""The async engine and sessions, upserts for both databases, and the database check (the
session of a request is ``shared.deps.SessionDep``)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import MetaData, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from shared.settings import Settings

NAMING_CONVENTION = {
    # Not %(column_0_label)s: that names the schema too, and an index keeps its name
    # whichever schema its table is in.
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Every table belongs to a service, or to the whole suite (read by every service). Models
# name the logical schema; on PostgreSQL it is the real schema below (one per service, each
# writable only by that service's role, see shared.dbsetup); SQLite has no schemas (None).
SCHEMAS: dict[str, str] = {
    "auth": "snapauth",
    "devicegw": "snapdevicegw",
    "revisions": "snaprevs",
    "assertions": "snapassert",
    "downloads": "snapdownloads",
    "suite": "snapproxy",
}


def schema_translate_map(dialect_name: str) -> dict[str | None, str | None]:
    """Logical schema -> real one on ``dialect_name``. On SQLite the real names map to None
    too, so that a migration written either way runs there."""
    translate: dict[str | None, str | None] = {}
    for logical, real in SCHEMAS.items():
        translate[logical] = real if dialect_name == "postgresql" else None
        if dialect_name != "postgresql":
            translate[real] = None
    return translate


def real_metadata(dialect_name: str, default_schema: str | None = None) -> MetaData:
    """The models' tables with their real schemas on ``dialect_name`` (what Alembic compares
    a database with). ``default_schema`` (the connection's) is spelled None, as Alembic does."""
    translate = schema_translate_map(dialect_name)
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    for table in Base.metadata.sorted_tables:
        schema = translate.get(table.schema, table.schema)
        # None: no schema (documented; the stubs leave it out).
        schema = None if schema == default_schema else schema
        table.to_metadata(metadata, schema=schema)  # type: ignore[arg-type]
    return metadata


def create_engine(
    settings: Settings, application_name: str = "snapproxy", url: URL | None = None
) -> AsyncEngine:
    """An engine whose connects fail fast, so a database outage shows as a failed check;
    on ``url`` (a service's own, ``shared.dbroles``) or the settings' database."""
    url = url or settings.sqlalchemy_url
    if url.drivername.startswith("sqlite"):
        if url.database and url.database != ":memory:":
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30},
            execution_options={"schema_translate_map": schema_translate_map("sqlite")},
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        pool_timeout=settings.db_connect_timeout,
        execution_options={"schema_translate_map": schema_translate_map("postgresql")},
        connect_args={
            "timeout": settings.db_connect_timeout,
            "server_settings": {"application_name": application_name},
        },
    )


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL lets readers work while one writer writes; the embedded default has five services
    sharing one SQLite file."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping_database(engine: AsyncEngine, timeout: float) -> None:
    """Run ``SELECT 1``; raise on failure or when it takes longer than ``timeout``."""
    async with asyncio.timeout(timeout), engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def insert_for(session: AsyncSession, model: type[Base]) -> Any:
    """An INSERT with ``on_conflict_do_update``/``nothing`` for the session's dialect: the two
    databases snapproxy runs on (PostgreSQL, SQLite) spell upserts the same way."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)
