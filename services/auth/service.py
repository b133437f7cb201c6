"""Device sessions: nonces and sessions relayed upstream, and the device registry.

A session request (store API reference 3.8) is checked for shape, forwarded byte-exact, and
the sighting recorded. Only the upstream store can tell a genuine serial from a forged one,
so a device is *verified*, and keyed by its brand, model and serial, only when the upstream
granted it a session. A serial the upstream refused or could not judge (it was down) is kept
apart as a claim; a request without a serial assertion by client address and user agent.
The upstream's answer, whatever its status, is relayed as is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.auth.limit import DeviceLimitReached, connected_since, limit_message
from services.auth.metrics import DEVICE_SESSIONS
from services.auth.repository import DeviceRepository, DeviceSighting
from services.auth.schemas import SessionRequest
from services.auth.sightings import Caller, sighting_for
from shared.errors import BadRequest, UpstreamUnavailable
from shared.models import Device
from shared.openapi import check_document
from shared.upstream import Upstream, response_headers

LONG_WINDOW = timedelta(days=30)  # the dashboard's second figure of connected devices

log = structlog.get_logger(__name__)

NONCES_PATH = "/api/v1/snaps/auth/nonces"
SESSIONS_PATH = "/api/v1/snaps/auth/sessions"
MAX_SESSION_BODY = 1024 * 1024
SESSION_FIELDS = ("device-session-request", "serial-assertion", "model-assertion")
# JSON decoders that match names case-insensitively (Go's) read "Serial-Assertion" as
# "serial-assertion": a body naming a field twice that way is refused, or the upstream
# could judge one serial and the proxy record another.
_FOLDED_FIELDS = frozenset(name.casefold() for name in SESSION_FIELDS)
# Failures of the database that lose a sighting but never a device's session.
DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


@dataclass(frozen=True)
class Relayed:
    """An upstream answer to hand back to the device unchanged."""

    status_code: int
    content: bytes
    headers: dict[str, str]


def relay(response: httpx.Response) -> Relayed:
    headers = response_headers(response)
    content_type = response.headers.get("content-type")
    if content_type:
        headers["content-type"] = content_type
    return Relayed(response.status_code, response.content, headers)


def _object_without_twins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, unless it names one of the session fields twice (in any case)."""
    seen: set[str] = set()
    for name, _ in pairs:
        folded = name.casefold()
        if folded in _FOLDED_FIELDS:
            if folded in seen:
                raise BadRequest(f"the session request names {folded!r} more than once")
            seen.add(folded)
    return dict(pairs)


def check_session_request(body: bytes) -> dict[str, Any]:
    """The body as a JSON object with the three assertion fields as non-empty strings."""
    try:
        payload = json.loads(body, object_pairs_hook=_object_without_twins)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, absurd nesting
        raise BadRequest("the session request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise BadRequest("the session request body must be a JSON object")
    check_document(SessionRequest, payload)
    return payload


def _timestamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def device_json(device: Device) -> dict[str, Any]:
    return {
        "brand-id": device.brand_id,
        "model": device.model,
        "serial": device.serial,
        "address": device.address,
        "user-agent": device.user_agent,
        "first-seen": _timestamp(device.first_seen),
        "last-seen": _timestamp(device.last_seen),
        "sessions": device.sessions,
        "verified": device.verified,
    }


class AuthService:
    """Sessions and the device list; each sighting is written in a transaction of its own,
    so it is kept even when the session request fails (the upstream is down)."""

    def __init__(
        self,
        upstream: Upstream,
        sessionmaker: async_sessionmaker[AsyncSession],
        airgap: Callable[[], bool] = lambda: False,
    ) -> None:
        self.upstream = upstream
        self.sessionmaker = sessionmaker
        self.airgap = airgap  # proxy.airgap as it is now

    def _refuse_in_airgap_mode(self) -> None:
        """Only the upstream grants device sessions, and airgap mode never contacts it:
        say so at once (snapd goes on without a session for what needs none)."""
        if self.airgap():
            raise UpstreamUnavailable("airgap mode: no device sessions without the upstream store")

    async def nonce(self, caller: Caller) -> Relayed:
        """Forward ``POST nonces`` (no body); raises UpstreamUnavailable."""
        self._refuse_in_airgap_mode()
        response = await self.upstream.request("POST", NONCES_PATH, headers=caller.headers)
        return relay(response)

    async def session(
        self, body: bytes, caller: Caller, device_limit: int | None = None
    ) -> Relayed:
        """Check, admit, forward byte-exact, record the sighting; raises BadRequest,
        DeviceLimitReached (``device_limit`` reached and the device is new), UpstreamUnavailable.

        The sighting is recorded whatever the upstream answers (its answer is relayed as is),
        also when it cannot be reached; ``sessions`` counts the answers that granted one (2xx).
        """
        payload = check_session_request(body)
        if self.airgap():
            await self._record(sighting_for(payload, caller, datetime.now(UTC), granted=False))
            self._refuse_in_airgap_mode()
        if device_limit is not None:
            await self._admit(payload, caller, device_limit)
        try:
            response = await self.upstream.request(
                "POST", SESSIONS_PATH, headers=caller.headers, content=body
            )
        except UpstreamUnavailable:
            DEVICE_SESSIONS.labels("upstream-unavailable").inc()
            await self._record(sighting_for(payload, caller, datetime.now(UTC), granted=False))
            raise
        granted = 200 <= response.status_code < 300
        DEVICE_SESSIONS.labels("granted" if granted else "refused").inc()
        sighting = sighting_for(payload, caller, datetime.now(UTC), granted)
        await self._record(sighting)
        log.info(
            "auth.session",
            device=sighting.device_key,
            upstream_status=response.status_code,
            granted=granted,
        )
        return relay(response)

    async def _admit(self, payload: Mapping[str, Any], caller: Caller, limit: int) -> None:
        """Raise DeviceLimitReached for a device that is not connected while ``limit``
        devices are; the refusal is logged and counted. With the database away the limit
        cannot be checked: the device is let through (and that is logged), as sessions never
        depend on the database."""
        now = datetime.now(UTC)
        device = sighting_for(payload, caller, now, granted=True)
        if not device.verified:  # no serial the proxy can read: not a device to count
            return
        since = connected_since(now)
        try:
            async with self.sessionmaker() as session, session.begin():
                devices = DeviceRepository(session)
                if await devices.is_connected(device.device_key, since):
                    return
                connected = await devices.connected_since(since)
                if connected < limit:
                    return
                await devices.record_refusal(device)
        except DATABASE_ERRORS as exc:
            log.warning(
                "auth.device_limit_unchecked",
                device=device.device_key,
                error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            )
            return
        log.warning(
            "auth.device_limit_reached",
            device=device.device_key,
            address=device.address,
            limit=limit,
            connected=connected,
        )
        raise DeviceLimitReached(limit_message(limit, connected))

    async def _record(self, sighting: DeviceSighting) -> None:
        """Write one sighting in its own transaction; a database failure loses only it."""
        try:
            async with self.sessionmaker() as session, session.begin():
                await DeviceRepository(session).record(sighting)
        except DATABASE_ERRORS as exc:
            log.warning(
                "auth.device_not_recorded",
                device=sighting.device_key,
                error=str(exc) or type(exc).__name__,
            )

    async def device_count(self) -> int:
        async with self.sessionmaker() as session, session.begin():
            return await DeviceRepository(session).count()

    async def list_devices(self, limit: int) -> list[dict[str, Any]]:
        async with self.sessionmaker() as session, session.begin():
            devices: Sequence[Device] = await DeviceRepository(session).most_recent(limit)
        return [device_json(device) for device in devices]

    async def summary(self, device_limit: int | None) -> dict[str, Any]:
        """The figures ``snap-proxy status`` shows: devices connected in the last 24 hours,
        the limit, and the new devices the limit refused in that time; and the devices
        connected (a session granted) in the last 30 days (the dashboard)."""
        now = datetime.now(UTC)
        since = connected_since(now)
        async with self.sessionmaker() as session, session.begin():
            devices = DeviceRepository(session)
            connected = await devices.connected_since(since)
            connected_30d = await devices.connected_since(now - LONG_WINDOW)
            refused = await devices.refusals_since(since)
        return {
            "connected-devices": connected,
            "window-hours": 24,
            "connected-devices-30d": connected_30d,
            "device-limit": device_limit,
            "refused-devices": refused.devices,
            "refused-sessions": refused.refusals,
            "last-refused": _timestamp(refused.last) if refused.last else None,
        }

    async def list_refusals(self, limit: int) -> list[dict[str, Any]]:
        async with self.sessionmaker() as session, session.begin():
            rows = await DeviceRepository(session).recent_refusals(limit)
        return [
            {
                "brand-id": row.brand_id,
                "model": row.model,
                "serial": row.serial,
                "address": row.address,
                "first-refused": _timestamp(row.first_refused),
                "last-refused": _timestamp(row.last_refused),
                "refusals": row.refusals,
            }
            for row in rows
        ]
