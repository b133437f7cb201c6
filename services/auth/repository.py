"""The device registry in the database: one row per device key, upserted on each sighting.

Works on PostgreSQL and SQLite (both have ``INSERT ... ON CONFLICT DO UPDATE``). Never
commits: the caller's unit of work owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert_for
from shared.models import Device, DeviceRefusal


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
    verified: bool


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
        "verified": sighting.verified,
    }


def _updates(excluded: Any) -> dict[str, ColumnElement[Any]]:
    """On a known device: refresh what may change, keep first_seen, add to sessions.

    A key is either always verified (``serial:``) or never, so a sighting only ever updates
    rows of its own kind."""
    return {
        "brand_id": excluded.brand_id,
        "model": excluded.model,
        "serial": excluded.serial,
        "address": excluded.address,
        "user_agent": excluded.user_agent,
        "last_seen": excluded.last_seen,
        "sessions": Device.sessions + excluded.sessions,
        "verified": excluded.verified,
    }


@dataclass(frozen=True)
class RefusalTotals:
    devices: int  # distinct devices refused
    refusals: int  # session requests refused
    last: datetime | None


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

    async def count(self) -> int:
        """How many devices there are (one count query)."""
        result = await self.session.execute(select(func.count()).select_from(Device))
        return int(result.scalar_one())

    async def most_recent(self, limit: int) -> Sequence[Device]:
        """Devices by last_seen, newest first."""
        query = select(Device).order_by(Device.last_seen.desc(), Device.id.desc()).limit(limit)
        result = await self.session.execute(query)
        return result.scalars().all()

    async def connected_since(self, since: datetime) -> int:
        """Verified devices (keyed by serial) granted a session at or after ``since``."""
        query = select(func.count()).where(Device.verified.is_(True), Device.last_seen >= since)
        return int((await self.session.execute(query)).scalar_one())

    async def is_connected(self, device_key: str, since: datetime) -> bool:
        """Whether the verified device ``device_key`` had a session at or after ``since``."""
        query = select(Device.id).where(
            Device.device_key == device_key, Device.verified.is_(True), Device.last_seen >= since
        )
        return (await self.session.execute(query)).first() is not None

    async def record_refusal(self, sighting: DeviceSighting) -> None:
        """Count one refused session request of the device ``sighting`` describes."""
        insert = insert_for(self.session, DeviceRefusal).values(
            device_key=sighting.device_key,
            brand_id=sighting.brand_id,
            model=sighting.model,
            serial=sighting.serial,
            address=sighting.address,
            first_refused=sighting.seen_at,
            last_refused=sighting.seen_at,
            refusals=1,
        )
        excluded = insert.excluded
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=[DeviceRefusal.device_key],
                set_={
                    "address": excluded.address,
                    "last_refused": excluded.last_refused,
                    "refusals": DeviceRefusal.refusals + 1,
                },
            )
        )

    async def refusals_since(self, since: datetime) -> RefusalTotals:
        """Devices refused at or after ``since`` (by their last refusal), all their refusals."""
        query = select(
            func.count(),
            func.coalesce(func.sum(DeviceRefusal.refusals), 0),
            func.max(DeviceRefusal.last_refused),
        ).where(DeviceRefusal.last_refused >= since)
        devices, refusals, last = (await self.session.execute(query)).one()
        return RefusalTotals(int(devices), int(refusals), last)

    async def recent_refusals(self, limit: int) -> Sequence[DeviceRefusal]:
        query = select(DeviceRefusal).order_by(DeviceRefusal.last_refused.desc()).limit(limit)
        return (await self.session.execute(query)).scalars().all()
