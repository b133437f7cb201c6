"""Device sessions as snapd asks for them (store API reference 3.8): a serial assertion of
a made-up brand, signed in the real shape, in a session request body. The store simulator
grants every session; whether a serial is genuine is the upstream's business."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

from shared.assertions import SigningKey, sign_assertion

SESSIONS = "/api/v1/snaps/auth/sessions"
BRAND, MODEL = "acme", "acme-box"


@functools.cache
def _keys() -> tuple[SigningKey, SigningKey]:
    """The brand's key and the device key (made once per test process: RSA is slow)."""
    return SigningKey.generate(2048), SigningKey.generate(2048)


@dataclass(frozen=True)
class SessionDevice:
    serial: str
    brand: str = BRAND
    model: str = MODEL

    @property
    def assertion(self) -> str:
        brand_key, device_key = _keys()
        headers = {
            "type": "serial",
            "authority-id": self.brand,
            "brand-id": self.brand,
            "model": self.model,
            "serial": self.serial,
            "device-key": device_key.public_key_body().decode(),
            "device-key-sha3-384": device_key.key_id,
            "timestamp": "2024-05-01T12:00:00Z",
        }
        return sign_assertion(headers, brand_key).raw.decode()

    def session_body(self) -> dict[str, Any]:
        return session_body(self.assertion)


def new_device(prefix: str = "sn") -> SessionDevice:
    """A device no test has used before."""
    return SessionDevice(f"{prefix}-{uuid.uuid4().hex[:12]}")


def session_body(serial_text: str) -> dict[str, Any]:
    return {
        "device-session-request": "type: device-session-request\n...",
        "serial-assertion": serial_text,
        "model-assertion": "type: model\n...",
    }
