"""The trusted root keys a proxy is configured with (``assertions.trusted-root-keys``).

Read without ``cryptography``: the settings of every service check the value, and most
services never verify a signature (``load_trusted_roots``, for those that do, also builds
each RSA key).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Final

from .assertion import Assertion
from .codec import parse_stream
from .errors import AssertionFormatError, SignatureError
from .keybody import check_account_key, public_key_packet

# The word that stands for the root key snapd trusts (a copy ships with this package).
CANONICAL: Final = "canonical"
CANONICAL_ROOT_KEY_FILE: Final = "trusted/canonical-root-key.assert"


class TrustedRootError(ValueError):
    """The configured trusted root keys cannot be read or are not account-keys."""


def canonical_root_key() -> bytes:
    """Canonical's root account-key, as snapd has it built in."""
    return resources.files(__package__).joinpath(CANONICAL_ROOT_KEY_FILE).read_bytes()


def load_trusted_roots(spec: str) -> tuple[Assertion, ...]:
    """The account-keys ``spec`` names (``read_trusted_roots``), each a usable RSA key."""
    from .keys import public_key_from_body

    roots = read_trusted_roots(spec)
    for key in roots:  # their key IDs and packets were checked by read_trusted_roots
        try:
            public_key_from_body(key.body)
        except SignatureError as exc:
            raise TrustedRootError(
                f"account-key {key.header('public-key-sha3-384')}: {exc}"
            ) from None
    return roots


def read_trusted_roots(spec: str) -> tuple[Assertion, ...]:
    """The account-keys ``spec`` names: inline assertion text (starting ``type:``), or
    comma-separated entries, each ``canonical`` or the path of a file of account-keys.

    Each is checked as far as it can be without ``cryptography``: an account-key, its body
    an RSA public key packet whose digest is its key ID."""
    text = spec.strip()
    if text.startswith("type:"):
        sources = [("the inline value", text.encode("utf-8"))]
    else:
        sources = [_read(entry.strip()) for entry in text.split(",") if entry.strip()]
    keys = [key for label, data in sources for key in _account_keys(label, data)]
    if not keys:
        raise TrustedRootError("names no trusted root key")
    return tuple(keys)


def _read(entry: str) -> tuple[str, bytes]:
    if entry == CANONICAL:
        return "the built-in Canonical root key", canonical_root_key()
    try:
        return entry, Path(entry).read_bytes()
    except OSError as exc:
        raise TrustedRootError(f"cannot read {entry}: {exc.strerror or exc}") from None


def _account_keys(label: str, data: bytes) -> list[Assertion]:
    try:
        found = parse_stream(data)
    except AssertionFormatError as exc:
        raise TrustedRootError(f"{label} is not an assertion stream: {exc}") from None
    if not found:
        raise TrustedRootError(f"{label} holds no assertion")
    for key in found:
        if key.type != "account-key":
            raise TrustedRootError(f"{label} holds a {key.type!r}, not an account-key")
        try:
            check_account_key(key)
            public_key_packet(key.body)
        except SignatureError as exc:
            raise TrustedRootError(f"{label}: {exc}") from None
    return found
