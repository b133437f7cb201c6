"""The one Alembic environment. The URL comes from ``config.attributes['sqlalchemy_url']``,
or a connection from ``config.attributes['connection']`` (``shared.dbsetup`` migrates inside
its own transaction).

Models name logical schemas (``shared.db.SCHEMAS``); the connection translates them, so a
migration may name a table's schema either way (``schema="auth"`` or ``"snapauth"``: None on
SQLite). The version table stays in the connection's default schema on both databases.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import shared.models  # noqa: F401  (registers the tables)
from shared.db import SCHEMAS, real_metadata, schema_translate_map

config = context.config


def _ours(name: str | None, type_: str, _parents: object) -> bool:
    """Alembic compares the default schema and snapproxy's own, nothing else."""
    return type_ != "schema" or name is None or name in SCHEMAS.values()


def _migrate(connection: Connection) -> None:
    dialect = connection.dialect.name
    connection.execution_options(schema_translate_map=schema_translate_map(dialect))
    default_schema = connection.dialect.default_schema_name if dialect == "postgresql" else None
    context.configure(
        connection=connection,
        target_metadata=real_metadata(dialect, default_schema),
        render_as_batch=dialect == "sqlite",
        include_schemas=dialect == "postgresql",
        include_name=_ours,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(config.attributes["sqlalchemy_url"])
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
            await connection.commit()
    finally:
        await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _migrate(connection)
else:
    asyncio.run(_run_async())
