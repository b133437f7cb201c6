"""The device registry in the database: one row per device, upserted on each sighting.

Works on PostgreSQL and SQLite (both have ``INSERT ... ON CONFLICT DO UPDATE``). Never
commits: the request's session owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert_for
from shared.models import Device


@dataclass(frozen=True)
class DeviceSighting:
    """One session request from a device, already fitted to the table's column sizes."""

    device_key: str
    brand_id: str | None
    model: str | None
    serial: str | None
    address: str | None
    user_agent: str | None
    seen_at: datetime
    session_granted: bool


def _values(sighting: DeviceSighting) -> dict[str, Any]:
    return {
        "device_key": sighting.device_key,
        "brand_id": sighting.brand_id,
        "model": sighting.model,
        "serial": sighting.serial,
        "address": sighting.address,
        "user_agent": sighting.user_agent,
        "first_seen": sighting.seen_at,
        "last_seen": sighting.seen_at,
        "sessions": 1 if sighting.session_granted else 0,
    }


def _updates(excluded: Any) -> dict[str, ColumnElement[Any]]:
    """On a known device: refresh what may change, keep first_seen, add to sessions."""
    return {
        "brand_id": excluded.brand_id,
        "model": excluded.model,
        "serial": excluded.serial,
        "address": excluded.address,
        "user_agent": excluded.user_agent,
        "last_seen": excluded.last_seen,
        "sessions": Device.sessions + excluded.sessions,
    }


class DeviceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, sighting: DeviceSighting) -> None:
        """Insert the device, or update the row with the same device_key."""
        values = _values(sighting)
        insert = insert_for(self.session, Device).values(values)
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=[Device.device_key], set_=_updates(insert.excluded)
            )
        )

    async def most_recent(self, limit: int) -> Sequence[Device]:
        """Devices by last_seen, newest first."""
        query = select(Device).order_by(Device.last_seen.desc(), Device.id.desc()).limit(limit)
        result = await self.session.execute(query)
        return result.scalars().all()
