"""SHA3-384 of snap files in both encodings."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from shared.assertions import sha3_384_b64_to_hex, sha3_384_file, sha3_384_hex_to_b64


def test_file_digest_in_both_forms(tmp_path: Path) -> None:
    content = bytes(range(256)) * 10_000  # spans several read chunks
    snap = tmp_path / "hello_1.snap"
    snap.write_bytes(content)
    hex_digest, b64_digest = sha3_384_file(snap)
    digest = hashlib.sha3_384(content).digest()
    assert hex_digest == digest.hex()
    assert b64_digest == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert len(b64_digest) == 64
    assert sha3_384_hex_to_b64(hex_digest) == b64_digest
    assert sha3_384_hex_to_b64(hex_digest.upper()) == b64_digest
    assert sha3_384_b64_to_hex(b64_digest) == hex_digest


@pytest.mark.parametrize("bad", ["", "ab", "g" * 96, "a" * 95, "a" * 97])
def test_bad_hex(bad: str) -> None:
    with pytest.raises(ValueError):
        sha3_384_hex_to_b64(bad)


@pytest.mark.parametrize("bad", ["", "a" * 63, "a" * 64 + "=", "+" * 64, "a" * 65])
def test_bad_b64(bad: str) -> None:
    with pytest.raises(ValueError):
        sha3_384_b64_to_hex(bad)
