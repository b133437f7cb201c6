"""``snap-proxy db migrate-to URL``: a node moves from the embedded default's SQLite to
PostgreSQL in one command.

The PostgreSQL database is set up first exactly as ``snap-proxy config proxy.db.connection``
does (``shared.dbsetup``: the password prompt, the roles, the migrations), then every table's
rows are copied, in one transaction, into its service's schema; only then does the node's
bootstrap file name the new database. The SQLite file is not changed.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Integer, Table, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import shared.models  # noqa: F401  (registers the tables)
from shared.db import Base, schema_translate_map

# The owner's own table: the target's rows (its roles) are the ones to keep.
NOT_COPIED = {"service_roles"}
# Rows the setup wrote already (the internal secret): the SQLite database's replace them,
# so that what the node knew stays the same.
REPLACED = {"suite_secrets"}
BATCH = 1000


class MigrateError(Exception):
    """Nothing was copied; the message is one line for the admin."""


def copied_tables() -> list[Table]:
    return [t for t in Base.metadata.sorted_tables if t.name not in NOT_COPIED]


def real_name(table: Table) -> str:
    schema = schema_translate_map("postgresql").get(table.schema, table.schema)
    return f"{schema}.{table.name}"


async def count_rows(source: AsyncEngine) -> dict[str, int]:
    async with source.connect() as connection:
        return {
            table.name: int(await connection.scalar(select(func.count()).select_from(table)) or 0)
            for table in copied_tables()
        }


async def _refuse_rows(target: AsyncConnection) -> None:
    for table in copied_tables():
        if table.name in REPLACED:
            continue
        found = await target.scalar(select(func.count()).select_from(table))
        if found:
            raise MigrateError(
                f"the PostgreSQL database already holds rows ({real_name(table)}: {found}); "
                "migrate-to only fills an empty one"
            )


async def _restart_sequences(target: AsyncConnection, table: Table) -> None:
    """An integer key's sequence continues after the copied rows."""
    for column in table.primary_key.columns:
        if isinstance(column.type, Integer):
            name = real_name(table)
            await target.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', '{column.name}'), "
                    f"coalesce(max({column.name}), 0) + 1, false) FROM {name}"
                )
            )


async def copy_rows(
    source: AsyncEngine, target: AsyncEngine, advance: Callable[[int], None]
) -> dict[str, int]:
    """Every table's rows from ``source`` (SQLite) into ``target`` (PostgreSQL, migrated, the
    owner's), in one transaction on the target; rows copied by table."""
    copied: dict[str, int] = {}
    async with source.connect() as reading, target.begin() as writing:
        await _refuse_rows(writing)
        for table in copied_tables():
            copied[table.name] = 0
            if table.name in REPLACED:
                await writing.execute(delete(table))
            result = await reading.stream(select(table))
            async for batch in result.mappings().partitions(BATCH):
                await writing.execute(insert(table), [dict(row) for row in batch])
                copied[table.name] += len(batch)
                advance(len(batch))
            await _restart_sequences(writing, table)
    return copied
