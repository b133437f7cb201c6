"""The parent's inventory of child proxies in the database. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import ChildProxy


class ChildRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, store_id: str, *, for_update: bool = False) -> ChildProxy | None:
        """``for_update``: the row stays locked until the transaction ends (PostgreSQL)."""
        return await self.session.get(ChildProxy, store_id, with_for_update=for_update)

    async def save(
        self,
        *,
        store_id: str,
        public_key: str,
        account: str,
        domain: str,
        url: str,
        use_case: str,
        assertions: str,
        now: datetime,
    ) -> ChildProxy:
        """A new child, or a known one registering again (reregister: a new address)."""
        child = await self.get(store_id)
        if child is None:
            child = ChildProxy(store_id=store_id, public_key=public_key, registered_at=now)
            self.session.add(child)
        child.account, child.domain, child.url = account, domain, url
        child.use_case, child.assertions, child.last_contact = use_case, assertions, now
        await self.session.flush()
        return child

    async def record_report(
        self,
        child: ChildProxy,
        *,
        sent_at: datetime,
        devices: int,
        others: int | None,
        now: datetime,
    ) -> None:
        """The child's report: its figures, and ``now`` as its last contact."""
        child.reported_at, child.devices, child.other_clients = sent_at, devices, others
        child.last_contact = now
        await self.session.flush()

    async def all(self) -> Sequence[ChildProxy]:
        rows = await self.session.scalars(select(ChildProxy).order_by(ChildProxy.registered_at))
        return rows.all()
