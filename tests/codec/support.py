"""Helpers shared by the codec tests."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from shared.assertions import Assertion, SigningKey, sign_assertion

FIXTURE_DIR: Final = Path(__file__).resolve().parent.parent / "fixtures" / "canonical-assertions"
# Signing order: the root key signs itself, both accounts and the generic key; the
# generic key signs the model.
FIXTURE_NAMES: Final = (
    "key-root",
    "account-canonical",
    "account-generic",
    "key-generic",
    "model",
)
ROOT_KEY_ID: Final = "-CvQKAwRQ5h3Ffn10FILJoEZUXOv6km9FwA80-Rcj-f-6jadQ89VRswHNiEB9Lxk"
GENERIC_KEY_ID: Final = "d-JcZF9nD9eBw7bwMnH61x-bklnQOhQud1Is6o_cn2wTj8EYDi9musrIT9z2MdAa"
TIMESTAMP: Final = "2024-01-01T00:00:00Z"


def read_fixture(name: str) -> bytes:
    return (FIXTURE_DIR / f"{name}.assert").read_bytes()


def canonical(encoded: bytes) -> bytes:
    """An encoded assertion with the closing newline snapd writes (the fixtures lack it)."""
    return encoded if encoded.endswith(b"\n") else encoded + b"\n"


def make_account_key(
    key: SigningKey, account_id: str, signer: SigningKey, authority: str = "testroot"
) -> Assertion:
    """An account-key assertion for `key`, signed by `signer` on behalf of `authority`."""
    headers = {
        "type": "account-key",
        "authority-id": authority,
        "account-id": account_id,
        "name": "default",
        "public-key-sha3-384": key.key_id,
        "since": TIMESTAMP,
    }
    return sign_assertion(headers, signer, key.public_key_body())
