"""SHA3-384 digests of snap files, in hex (store JSON) and base64url (assertions) forms."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from typing import Final

CHUNK_SIZE: Final = 1024 * 1024
_HEX_DIGEST: Final = re.compile(r"[0-9a-fA-F]{96}")
_B64_DIGEST: Final = re.compile(r"[A-Za-z0-9_-]{64}")


def sha3_384_file(path: str | os.PathLike[str]) -> tuple[str, str]:
    """(hex digest, unpadded base64url digest) of a file, read in chunks."""
    hasher = hashlib.sha3_384()
    with open(path, "rb") as snap_file:
        while chunk := snap_file.read(CHUNK_SIZE):
            hasher.update(chunk)
    digest = hasher.digest()
    return digest.hex(), base64.urlsafe_b64encode(digest).decode("ascii")


def sha3_384_hex_to_b64(hex_digest: str) -> str:
    """Hex SHA3-384 (store JSON `download.sha3-384`) to the assertion `snap-sha3-384` form."""
    if not _HEX_DIGEST.fullmatch(hex_digest):
        raise ValueError(f"not a hex SHA3-384 digest: {hex_digest!r}")
    return base64.urlsafe_b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def sha3_384_b64_to_hex(b64_digest: str) -> str:
    """Unpadded base64url SHA3-384 (assertion form) to lower-case hex."""
    if not _B64_DIGEST.fullmatch(b64_digest):
        raise ValueError(f"not a base64url SHA3-384 digest: {b64_digest!r}")
    try:
        return base64.urlsafe_b64decode(b64_digest).hex()
    except binascii.Error:
        raise ValueError(f"not a base64url SHA3-384 digest: {b64_digest!r}") from None
