"""The devicegw's table of other clients: one row per address that used the device API
without a device session. Never commits: the caller's unit of work owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert_for
from shared.models import OtherClient


class OtherClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, address: str, user_agent: str | None, seen_at: datetime) -> None:
        """Insert the client, or move its last_seen (and user agent) on."""
        insert = insert_for(self.session, OtherClient).values(
            address=address, user_agent=user_agent, first_seen=seen_at, last_seen=seen_at
        )
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=[OtherClient.address],
                set_={
                    "user_agent": insert.excluded.user_agent,
                    "last_seen": insert.excluded.last_seen,
                },
            )
        )

    async def seen_since(self, since: datetime) -> int:
        query = select(func.count()).where(OtherClient.last_seen >= since)
        return int((await self.session.execute(query)).scalar_one())

    async def most_recent(self, limit: int) -> Sequence[OtherClient]:
        query = select(OtherClient).order_by(OtherClient.last_seen.desc()).limit(limit)
        return (await self.session.execute(query)).scalars().all()
