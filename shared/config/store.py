"""The ``config`` table: the keys every service and replica shares.

Writers are rare (an admin's command) and serialized (an advisory lock on PostgreSQL; SQLite
has one writer anyway), and every write stamps its rows later than any row before it, so
``count(*), max(updated_at)`` changes with every committed write, whatever the clocks of the
nodes say: that is what a running process polls (:func:`read_stamp`) before it reads the
whole table again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import insert_for
from shared.models import ConfigEntry, utcnow

Stamp = tuple[int, datetime | None]
# pg_advisory_xact_lock's key for config writers ("snapcfg" in ASCII).
WRITERS_LOCK = 0x736E6170636667


class ConfigRepository:
    """Queries on the table within the caller's transaction (it never commits)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> dict[str, str]:
        rows = await self.session.execute(select(ConfigEntry.key, ConfigEntry.value))
        return {key: value for key, value in rows.all()}  # noqa: C416 (a Result is no mapping)

    async def stamp(self) -> Stamp:
        row = await self.session.execute(
            select(func.count(), func.max(ConfigEntry.updated_at)).select_from(ConfigEntry)
        )
        count, latest = row.one()
        if isinstance(latest, str):  # SQLite hands an aggregate's datetime back as text
            latest = datetime.fromisoformat(latest)
        return int(count), latest

    async def lock_writers(self) -> None:
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITERS_LOCK}
            )

    async def next_stamp(self) -> datetime:
        """Now, or just after the latest row if a node's clock says that is later."""
        _, latest = await self.stamp()
        now = utcnow()
        if latest is None:
            return now
        latest = latest.replace(tzinfo=now.tzinfo) if latest.tzinfo is None else latest
        return max(now, latest + timedelta(microseconds=1))

    async def put(self, key: str, value: str, stamp: datetime) -> None:
        insert = insert_for(self.session, ConfigEntry).values(
            key=key, value=value, updated_at=stamp
        )
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=[ConfigEntry.key],
                set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at},
            )
        )

    async def remove(self, keys: list[str]) -> None:
        if keys:
            await self.session.execute(delete(ConfigEntry).where(ConfigEntry.key.in_(keys)))


async def read_table(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    async with sessionmaker() as session, session.begin():
        return await ConfigRepository(session).all()


async def read_stamp(sessionmaker: async_sessionmaker[AsyncSession]) -> Stamp:
    async with sessionmaker() as session, session.begin():
        return await ConfigRepository(session).stamp()


async def write_table(
    sessionmaker: async_sessionmaker[AsyncSession],
    changes: Mapping[str, str | None],
    *,
    replace: bool = False,
) -> None:
    """Set every key of ``changes`` (None or empty: remove it), in one transaction; with
    ``replace``, every other key is removed too (an import)."""
    async with sessionmaker() as session, session.begin():
        table = ConfigRepository(session)
        await table.lock_writers()
        stamp = await table.next_stamp()
        stored = await table.all()
        removed = [key for key, value in changes.items() if not value and key in stored]
        if replace:
            removed += [key for key in stored if key not in changes]
        for key, value in sorted(changes.items()):
            if value:
                await table.put(key, value, stamp)
        await table.remove(sorted(set(removed)))
