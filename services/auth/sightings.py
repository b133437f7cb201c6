"""A session request's sighting: which device (or client) asked, fitted to the columns of
``auth.devices``. A device is keyed by brand, model and serial, and verified, only when the
upstream granted it a session; a serial it refused or could not judge is a claim under a key
of its own; a request without a serial is keyed by client address and user agent."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.auth.repository import DeviceSighting
from shared.assertions import AssertionFormatError, parse_assertion


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the headers to relay, the client address and user agent."""

    headers: Mapping[str, str]
    address: str | None
    user_agent: str | None


# Column sizes of the devices table (shared.models.Device).
_KEY_MAX, _BRAND_MAX, _MODEL_MAX, _SERIAL_MAX = 512, 128, 128, 256
_ADDRESS_MAX, _USER_AGENT_MAX = 64, 512


@dataclass(frozen=True)
class SerialIdentity:
    brand_id: str
    model: str
    serial: str


def serial_identity(serial_assertion: str) -> SerialIdentity | None:
    """Brand, model and serial of an encoded serial assertion; None if it is not one.

    The signature is not checked here: the upstream store decides whether the device is
    genuine (it has the brands' keys), and only a granted session makes the device verified.
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
    verified = identity is not None and granted
    if identity is not None:
        # A claim never shares a key with a verified device, so it cannot overwrite one.
        kind = "serial" if verified else "claimed-serial"
        key = f"{kind}:{identity.brand_id}/{identity.model}/{identity.serial}"
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
        verified=verified,
    )
