"""A registered child's report to its parent: the figures ``snap-proxy status`` shows.

``POST /v2/auth/proxy/report`` with a JSON object ``{"store-id", "sent-at", "devices",
"other-clients"}`` (``sent-at``: ISO 8601 UTC; ``devices``: devices with a session in the
last 24 hours; ``other-clients``: clients without one in that time, or null when the child
could not count them), and the header ``Snapproxy-Report-Signature``: the base64 RSA
PKCS#1 v1.5 SHA-256 signature of the body's exact bytes by the child's identity key
(``proxy.key.private``), the key whose public half the child registered with. That is the
credential registration gave the child; the parent checks the signature with the public key
it keeps for the Store ID.

Answers: 200 ``{"store-id", "recorded-at"}``; 400 ``invalid-request`` (malformed);
401 ``invalid-credentials`` (no such Store ID, no or a wrong signature); 409 ``stale-report``
(``sent-at`` too far from the parent's clock, or not after the last report it took: a
replay). All in the Store's shape.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shared.registration.protocol import RegistrationInvalid, rsa_public_key, valid_store_id

REPORT_PATH = "/v2/auth/proxy/report"
SIGNATURE_HEADER = "Snapproxy-Report-Signature"
MAX_REPORT_BODY = 4096
MAX_COUNT = 10**9


class ReportInvalid(ValueError):
    """The report is malformed; the message says which field and why."""


@dataclass(frozen=True)
class Report:
    store_id: str
    sent_at: datetime
    devices: int
    other_clients: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "store-id": self.store_id,
            "sent-at": self.sent_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "devices": self.devices,
            "other-clients": self.other_clients,
        }


def _count(payload: dict[str, Any], name: str, *, nullable: bool) -> int | None:
    value = payload.get(name)
    if value is None and nullable and name in payload:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise ReportInvalid(f"'{name}' must be a whole number from 0 to {MAX_COUNT}")
    return value


def parse_report(body: bytes) -> Report:
    """The report in ``body``; ReportInvalid naming the first bad field."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ReportInvalid("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise ReportInvalid("the body must be a JSON object")
    store_id = payload.get("store-id")
    if not isinstance(store_id, str) or not valid_store_id(store_id):
        raise ReportInvalid("'store-id' is not a Store ID")
    sent_at = payload.get("sent-at")
    try:
        when = datetime.fromisoformat(sent_at) if isinstance(sent_at, str) else None
    except ValueError:
        when = None
    try:
        utc = when.astimezone(UTC) if when is not None and when.tzinfo is not None else None
    except OverflowError:  # the first or last day of the calendar, in a far time zone
        utc = None
    if utc is None:
        raise ReportInvalid("'sent-at' must be an ISO 8601 time with its time zone")
    devices = _count(payload, "devices", nullable=False)
    assert devices is not None
    others = _count(payload, "other-clients", nullable=True)
    return Report(store_id, utc, devices, others)


def encode_report(report: Report) -> bytes:
    return json.dumps(report.to_json(), sort_keys=True).encode()


def sign(private_pem: str, body: bytes) -> str:
    """The signature header's value for ``body``. Blocking (RSA): call it in a thread."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the identity key is not an RSA key")
    signature = key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def signed_by(public_openssh: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is a signature of ``body`` by the key ``public_openssh``.
    Blocking (RSA): call it in a thread."""
    if not header:
        return False
    try:
        signature = base64.b64decode(header.strip(), validate=True)
        rsa_public_key(public_openssh).verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature, RegistrationInvalid):
        return False
    return True
