"""The genuine Canonical-signed assertions parse, chain up and resist tampering."""

from __future__ import annotations

import pytest

from shared.assertions import (
    Assertion,
    AssertionFormatError,
    SignatureError,
    key_id_of_body,
    openpgp,
    parse_assertion,
    public_key_from_account_key,
    verify_chain,
    verify_signature,
)
from shared.assertions.keybody import decode_v1

from .support import FIXTURE_NAMES, GENERIC_KEY_ID, ROOT_KEY_ID

SIGNERS = {
    "key-root": "key-root",
    "account-canonical": "key-root",
    "account-generic": "key-root",
    "key-generic": "key-root",
    "model": "key-generic",
}


def test_genuine_headers(genuine: dict[str, Assertion]) -> None:
    root = genuine["key-root"]
    assert root.type == "account-key"
    assert root.authority_id == "canonical"
    assert root.revision == 2
    assert root.primary_key == (ROOT_KEY_ID,)
    assert root.header("name") == "root"
    assert len(root.body) == int(root.header("body-length") or 0) == 1406
    assert public_key_from_account_key(root).key_size == 8192
    assert public_key_from_account_key(genuine["key-generic"]).key_size == 4096
    model = genuine["model"]
    assert model.primary_key == ("16", "generic", "generic-classic")
    assert model.sign_key_sha3_384 == GENERIC_KEY_ID
    assert model.format == 0
    assert model.body == b""
    assert genuine["account-canonical"].header("validation") == "certified"
    assert genuine["account-generic"].primary_key == ("generic",)


@pytest.mark.parametrize("name", ["key-root", "key-generic"])
def test_key_ids_computed_from_bodies(genuine: dict[str, Assertion], name: str) -> None:
    key = genuine[name]
    assert key_id_of_body(key.body) == key.header("public-key-sha3-384")
    packet = openpgp.decode_public_key_packet(decode_v1(key.body))
    assert packet.created == openpgp.FIXED_KEY_CREATION_TIME


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_genuine_signatures_verify(genuine: dict[str, Assertion], name: str) -> None:
    verify_signature(genuine[name], genuine[SIGNERS[name]])
    verify_chain(genuine[name], genuine.values())


def test_signature_packets_are_v4_rsa_sha512(genuine: dict[str, Assertion]) -> None:
    for assertion in genuine.values():
        packet = openpgp.decode_signature_packet(decode_v1(assertion.signature))
        assert packet.hash_algorithm == openpgp.HASH_SHA512


def test_wrong_key_is_refused(genuine: dict[str, Assertion]) -> None:
    with pytest.raises(SignatureError, match="did not sign"):
        verify_signature(genuine["model"], genuine["key-root"])
    with pytest.raises(SignatureError, match="expected an account-key"):
        verify_signature(genuine["model"], genuine["account-generic"])
    with pytest.raises(SignatureError, match="no matching public key"):
        verify_chain(genuine["model"], [genuine["key-root"]])


def test_signature_of_another_assertion_is_refused(genuine: dict[str, Assertion]) -> None:
    account = genuine["account-generic"]
    other = genuine["account-canonical"]
    forged = parse_assertion(account.content + b"\n\n" + other.signature + b"\n")
    with pytest.raises(SignatureError, match="failed signature verification"):
        verify_signature(forged, genuine["key-root"])


def _unsigned_span(signature: bytes) -> tuple[int, int]:
    """Byte offsets (in 0x01 || packet) of the unhashed subpackets, which nothing signs."""
    decoded = b"\x01" + decode_v1(signature)
    length_octets = 1 if decoded[2] < 192 else 2 if decoded[2] < 224 else 5
    header = 2 + length_octets  # version byte, packet tag, packet length
    hashed_len = int.from_bytes(decoded[header + 4 : header + 6], "big")
    start = header + 6 + hashed_len
    unhashed_len = int.from_bytes(decoded[start : start + 2], "big")
    return start + 2, start + 2 + unhashed_len


def _only_unsigned_bytes_differ(original: Assertion, mutated: bytes) -> bool:
    """Whether a mutation left the content alone and changed only unhashed subpackets."""
    try:
        candidate = parse_assertion(mutated)
        changed = b"\x01" + decode_v1(candidate.signature)
    except AssertionFormatError:
        return False
    genuine = b"\x01" + decode_v1(original.signature)
    if candidate.content != original.content or len(changed) != len(genuine):
        return False
    start, end = _unsigned_span(original.signature)
    return all(start <= i < end for i in range(len(genuine)) if changed[i] != genuine[i])


@pytest.mark.parametrize("mask", [0x01, 0x20])
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_single_byte_flip_fails(
    genuine_bytes: dict[str, bytes], genuine: dict[str, Assertion], name: str, mask: int
) -> None:
    """Flip each byte in turn: parsing or verification must fail.

    The only exception is the unhashed subpacket area of the signature packet (the issuer
    key ID), which OpenPGP leaves unsigned and snapd does not check.
    """
    data = genuine_bytes[name] + b"\n"
    pool = list(genuine.values())
    content_end = len(genuine[name].content)
    outcomes = {"format": 0, "signature": 0, "unsigned": 0}
    for position in range(len(data)):
        mutated = bytearray(data)
        mutated[position] ^= mask
        try:
            verify_chain(parse_assertion(bytes(mutated)), pool)
        except AssertionFormatError:
            outcomes["format"] += 1
        except SignatureError:
            outcomes["signature"] += 1
        else:
            assert position > content_end + 1, f"content flip at {position} verified"
            assert _only_unsigned_bytes_differ(genuine[name], bytes(mutated)), position
            outcomes["unsigned"] += 1
    assert outcomes["signature"] > content_end // 2
    # The issuer subpacket is 10 bytes: at most ~14 base64 characters can touch it.
    assert outcomes["unsigned"] <= 14
