"""Account-key bodies and signatures as snapd encodes them, read without ``cryptography``:
``base64std(0x01 || packet)``, key IDs, and the RSA numbers of a public key packet.

Apart from ``keys`` so that parsing assertions and checking trusted roots need no
``cryptography`` (some 10 MiB in each process): a service that only relays assertions
(downloads, revisions) never loads it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Final

from . import openpgp
from .assertion import Assertion
from .errors import AssertionFormatError, SignatureError

ENCODING_VERSION: Final = 0x01
WRAP_COLUMNS: Final = 76
_BASE64_CHARS: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
)


def encode_v1(packet: bytes) -> bytes:
    """`base64std(0x01 || packet)` wrapped at 76 columns, without a trailing newline."""
    text = base64.b64encode(bytes([ENCODING_VERSION]) + packet)
    return b"\n".join(text[i : i + WRAP_COLUMNS] for i in range(0, len(text), WRAP_COLUMNS))


def decode_v1(text: bytes) -> bytes:
    """Decode `encode_v1` text to its packet bytes; canonical base64 only."""
    joined = text.replace(b"\n", b"")
    if not joined or not _BASE64_CHARS.issuperset(joined) or len(joined) % 4:
        raise AssertionFormatError("invalid base64 encoding")
    try:
        decoded = base64.b64decode(joined, validate=True)
    except binascii.Error:
        raise AssertionFormatError("invalid base64 encoding") from None
    if base64.b64encode(decoded) != joined:
        raise AssertionFormatError("non-canonical base64 encoding")
    if decoded[0] != ENCODING_VERSION:
        raise AssertionFormatError(f"unsupported encoding format version: {decoded[0]}")
    return decoded[1:]


def key_id_of_digest(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def key_id_of_body(body: bytes) -> str:
    """The key ID (`public-key-sha3-384`) of an account-key body or `device-key` value."""
    packet = decode_v1(body)
    return key_id_of_digest(hashlib.sha3_384(bytes([ENCODING_VERSION]) + packet).digest())


def public_key_packet(body: bytes) -> openpgp.RSAPublicKeyPacket:
    """The RSA public key packet in an account-key body or `device-key` header value."""
    try:
        return openpgp.decode_public_key_packet(decode_v1(body))
    except ValueError as exc:  # AssertionFormatError, PacketError
        raise SignatureError(f"cannot decode public key: {exc}") from None


def check_account_key(account_key: Assertion) -> None:
    """Raise SignatureError unless ``account_key`` is an account-key whose body matches its
    key ID (``public-key-sha3-384``)."""
    if account_key.type != "account-key":
        raise SignatureError(f"expected an account-key assertion, got {account_key.type!r}")
    declared = account_key.header("public-key-sha3-384")
    try:
        computed = key_id_of_body(account_key.body)
    except AssertionFormatError as exc:
        raise SignatureError(f"cannot decode public key: {exc}") from None
    if computed != declared:
        raise SignatureError("account-key public-key-sha3-384 does not match its body")
