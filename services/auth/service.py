"""Device sessions: nonces and sessions relayed upstream, and the device registry.

A session request (store API reference 3.8) is checked for shape, forwarded byte-exact, and
the device recorded: by the brand, model and serial of its ``serial-assertion`` when that
parses as a serial assertion, otherwise by client address and user agent. The upstream's
answer, whatever its status, is relayed as is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from services.auth.repository import DeviceRepository, DeviceSighting
from shared.assertions import AssertionFormatError, parse_assertion
from shared.errors import BadRequest
from shared.models import Device
from shared.upstream import Upstream, response_headers

log = structlog.get_logger(__name__)

NONCES_PATH = "/api/v1/snaps/auth/nonces"
SESSIONS_PATH = "/api/v1/snaps/auth/sessions"
MAX_SESSION_BODY = 1024 * 1024
SESSION_FIELDS = ("device-session-request", "serial-assertion", "model-assertion")

# Column sizes of the devices table (shared.models.Device).
_KEY_MAX, _BRAND_MAX, _MODEL_MAX, _SERIAL_MAX = 512, 128, 128, 256
_ADDRESS_MAX, _USER_AGENT_MAX = 64, 512


@dataclass(frozen=True)
class Relayed:
    """An upstream answer to hand back to the device unchanged."""

    status_code: int
    content: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the headers to relay, the client address and user agent."""

    headers: Mapping[str, str]
    address: str | None
    user_agent: str | None


@dataclass(frozen=True)
class SerialIdentity:
    brand_id: str
    model: str
    serial: str


def relay(response: httpx.Response) -> Relayed:
    headers = response_headers(response)
    content_type = response.headers.get("content-type")
    if content_type:
        headers["content-type"] = content_type
    return Relayed(response.status_code, response.content, headers)


def check_session_request(body: bytes) -> dict[str, Any]:
    """The body as a JSON object with the three assertion fields as non-empty strings."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, absurd nesting
        raise BadRequest("the session request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise BadRequest("the session request body must be a JSON object")
    for name in SESSION_FIELDS:
        value = payload.get(name)
        if not isinstance(value, str) or not value:
            raise BadRequest(f"{name!r} must be a non-empty string")
    return payload


def serial_identity(serial_assertion: str) -> SerialIdentity | None:
    """Brand, model and serial of an encoded serial assertion; None if it is not one.

    The signature is not checked: the upstream store decides whether the device is genuine,
    the proxy only needs a name for it.
    """
    try:
        assertion = parse_assertion(serial_assertion.encode("utf-8"))
    except (AssertionFormatError, ValueError, UnicodeError):
        return None
    if assertion.type != "serial":
        return None
    brand_id, model, serial = (assertion.header(h) for h in ("brand-id", "model", "serial"))
    if not brand_id or not model or not serial:
        return None
    return SerialIdentity(brand_id, model, serial)


def _clean(value: str | None, limit: int) -> str | None:
    """Fit a value into its column: no NUL (PostgreSQL refuses it), at most ``limit`` chars."""
    if value is None:
        return None
    return value.replace("\x00", "")[:limit]


def _fit_key(key: str) -> str:
    """Keys longer than the column are replaced by their prefix and a digest (still unique)."""
    key = key.replace("\x00", "")
    if len(key) <= _KEY_MAX:
        return key
    kind = key.split(":", 1)[0]
    digest = hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).hexdigest()
    return f"{kind}:sha256:{digest}"


def sighting_for(
    payload: Mapping[str, Any], caller: Caller, seen_at: datetime, granted: bool
) -> DeviceSighting:
    identity = serial_identity(payload["serial-assertion"])
    address = _clean(caller.address, _ADDRESS_MAX)
    user_agent = _clean(caller.user_agent, _USER_AGENT_MAX)
    if identity is not None:
        key = f"serial:{identity.brand_id}/{identity.model}/{identity.serial}"
        brand_id = _clean(identity.brand_id, _BRAND_MAX)
        model = _clean(identity.model, _MODEL_MAX)
        serial = _clean(identity.serial, _SERIAL_MAX)
    else:
        key = f"client:{caller.address or ''}|{caller.user_agent or ''}"
        brand_id = model = serial = None
    return DeviceSighting(
        device_key=_fit_key(key),
        brand_id=brand_id,
        model=model,
        serial=serial,
        address=address,
        user_agent=user_agent,
        seen_at=seen_at,
        session_granted=granted,
    )


def device_json(device: Device) -> dict[str, Any]:
    return {
        "brand-id": device.brand_id,
        "model": device.model,
        "serial": device.serial,
        "address": device.address,
        "user-agent": device.user_agent,
        "first-seen": device.first_seen.isoformat().replace("+00:00", "Z"),
        "last-seen": device.last_seen.isoformat().replace("+00:00", "Z"),
        "sessions": device.sessions,
    }


class AuthService:
    def __init__(self, upstream: Upstream, devices: DeviceRepository) -> None:
        self.upstream = upstream
        self.devices = devices

    async def nonce(self, caller: Caller) -> Relayed:
        """Forward ``POST nonces`` (no body); raises UpstreamUnavailable."""
        response = await self.upstream.request("POST", NONCES_PATH, headers=caller.headers)
        return relay(response)

    async def session(self, body: bytes, caller: Caller) -> Relayed:
        """Check, forward byte-exact, record the device; raises BadRequest, UpstreamUnavailable.

        The device is recorded whatever the upstream answers (its answer is relayed as is);
        ``sessions`` counts the answers that granted one (2xx).
        """
        payload = check_session_request(body)
        response = await self.upstream.request(
            "POST", SESSIONS_PATH, headers=caller.headers, content=body
        )
        granted = 200 <= response.status_code < 300
        sighting = sighting_for(payload, caller, datetime.now(UTC), granted)
        await self.devices.record(sighting)
        log.info(
            "auth.session",
            device=sighting.device_key,
            upstream_status=response.status_code,
            granted=granted,
        )
        return relay(response)

    async def list_devices(self, limit: int) -> list[dict[str, Any]]:
        devices: Sequence[Device] = await self.devices.most_recent(limit)
        return [device_json(device) for device in devices]
