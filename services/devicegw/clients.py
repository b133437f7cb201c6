"""Other clients: who uses the device API without a device session (``snap download``, a
snapd that has no serial yet), counted apart from the devices, by address.

A device with a session sends ``Snap-Device-Authorization`` (``X-Device-Authorization`` on
v1 paths); the auth service counts those by serial. Every other request's address is
recorded here, at most once per :data:`RECORD_EVERY` per address and process (the count is
of addresses seen in a day, so a finer clock would only cost writes), in a task beside the
request: a slow or absent database delays no request, and loses only the sighting.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.devicegw.relay import DeviceRequest
from services.devicegw.repository import OtherClientRepository
from shared.credentials import store_credentials

log = structlog.get_logger(__name__)

RECORD_EVERY = 60.0  # seconds
WINDOW = timedelta(hours=24)
_REMEMBERED = 10_000  # addresses kept in the throttle before it starts afresh
_RECORD_TIMEOUT = 2.0
_ADDRESS_MAX, _USER_AGENT_MAX = 64, 512


def _timestamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _fit(value: str, limit: int) -> str:
    return value.replace("\x00", "")[:limit]


def has_device_session(request: DeviceRequest) -> bool:
    return "Snap-Device-Authorization" in store_credentials(request.headers)


class OtherClients:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self._recorded: dict[str, float] = {}  # address -> monotonic time of the last write
        self._writing: set[asyncio.Task[None]] = set()

    def seen(self, request: DeviceRequest) -> None:
        """Record the request's address unless it has a device session (or was recorded a
        moment ago). Call it from the event loop."""
        if request.address is None or has_device_session(request):
            return
        address = _fit(request.address, _ADDRESS_MAX)
        now = time.monotonic()
        last = self._recorded.get(address)
        if last is not None and now - last < RECORD_EVERY:
            return
        if len(self._recorded) >= _REMEMBERED:
            self._recorded.clear()
        self._recorded[address] = now
        agent = _fit(request.user_agent, _USER_AGENT_MAX) if request.user_agent else None
        # Written beside the request, never in its way (the database may be slow or away).
        task = asyncio.create_task(self._record(address, agent, datetime.now(UTC)))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _record(self, address: str, agent: str | None, seen_at: datetime) -> None:
        try:
            async with asyncio.timeout(_RECORD_TIMEOUT):
                async with self.sessionmaker() as session, session.begin():
                    await OtherClientRepository(session).record(address, agent, seen_at)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:  # tried again a minute later
            log.warning("devicegw.client_not_recorded", error=str(exc) or type(exc).__name__)

    async def aclose(self) -> None:
        """Let the writes under way finish (a stopping process)."""
        if self._writing:
            await asyncio.wait(set(self._writing), timeout=_RECORD_TIMEOUT + 1)

    async def count(self) -> int:
        """Clients seen in the last day (what ``snap-proxy status`` shows)."""
        async with self.sessionmaker() as session, session.begin():
            return await OtherClientRepository(session).seen_since(datetime.now(UTC) - WINDOW)

    async def listing(self, limit: int) -> dict[str, Any]:
        """Clients by last seen, newest first, and how many were seen in the last day."""
        since = datetime.now(UTC) - WINDOW
        async with self.sessionmaker() as session, session.begin():
            repository = OtherClientRepository(session)
            count = await repository.seen_since(since)
            rows = await repository.most_recent(limit)
        return {
            "other-clients": count,
            "window-hours": 24,
            "clients": [
                {
                    "address": row.address,
                    "user-agent": row.user_agent,
                    "first-seen": _timestamp(row.first_seen),
                    "last-seen": _timestamp(row.last_seen),
                }
                for row in rows
            ],
        }
