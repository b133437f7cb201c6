"""Deterministic identifiers and time formatting."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(seed: str, length: int = 32) -> str:
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 62)
        chars.append(_ALPHABET[rem])
    return "".join(chars)


def snap_id_for(name: str) -> str:
    """The 32-character snap-id of ``name`` ([A-Za-z0-9], stable across runs)."""
    return _base62(f"snapsim-snap-id:{name}")


def account_id_for(username: str) -> str:
    """The 32-character account-id of a publisher username."""
    return _base62(f"snapsim-account-id:{username}")


def rfc3339(moment: datetime | None = None) -> str:
    """``2024-01-02T03:04:05.000000+00:00`` (the Store's format)."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def assertion_time(moment: datetime | None = None) -> str:
    """``2024-01-02T03:04:05Z``, as assertion headers write times."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
