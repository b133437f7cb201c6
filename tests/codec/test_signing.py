"""Signing with fresh keys: canonical header order, value encoding, verification."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from shared.assertions import (
    Assertion,
    AssertionFormatError,
    HeaderValue,
    SignatureError,
    SigningKey,
    key_id_of_body,
    openpgp,
    parse_assertion,
    public_key_from_account_key,
    public_key_from_body,
    sign_assertion,
    verify_chain,
    verify_signature,
    verify_signature_with_key,
)
from shared.assertions.keybody import decode_v1, encode_v1

from .support import TIMESTAMP, make_account_key

SNAP_SHA3 = "a" * 64


def test_4096_bit_round_trip(root_key: SigningKey, root_account_key: Assertion) -> None:
    assert root_key.public_key.key_size == 4096
    assert len(root_key.key_id) == 64
    assert key_id_of_body(root_key.public_key_body()) == root_key.key_id
    assert root_account_key.primary_key == (root_key.key_id,)
    assert public_key_from_account_key(root_account_key).public_numbers() == (
        root_key.public_key.public_numbers()
    )
    verify_signature(root_account_key, root_account_key)
    packet = openpgp.decode_public_key_packet(decode_v1(root_key.public_key_body()))
    assert packet.created == openpgp.FIXED_KEY_CREATION_TIME


def test_key_body_layout(small_key: SigningKey) -> None:
    body = small_key.public_key_body()
    lines = body.split(b"\n")
    assert all(len(line) == 76 for line in lines[:-1])
    assert 0 < len(lines[-1]) <= 76
    assert not body.endswith(b"\n")
    assert body.startswith(b"Ac")  # 0x01 then a new-format tag-6 packet (0xC6)


def test_pem_round_trip(small_key: SigningKey) -> None:
    again = SigningKey.from_pem(small_key.to_pem())
    assert again.key_id == small_key.key_id
    assert again.public_key_body() == small_key.public_key_body()


def test_canonical_header_order(small_key: SigningKey, small_account_key: Assertion) -> None:
    headers: dict[str, HeaderValue] = {
        "zeta": "last of the others",
        "sign-key-sha3-384": "ignored, replaced by the key",
        "body-length": "999",
        "revision": "3",
        "timestamp": TIMESTAMP,
        "snap-id": "snapid",
        "series": "16",
        "authority-id": "brand",
        "format": "1",
        "type": "snap-declaration",
        "publisher-id": "brand",
        "snap-name": "hello",
        "alpha": "first of the others",
    }
    signed = sign_assertion(headers, small_key, b"the body")
    names = [line.split(":")[0] for line in signed.content.split(b"\n\n")[0].decode().split("\n")]
    assert names == [
        "type",
        "format",
        "authority-id",
        "revision",
        "series",
        "snap-id",
        "alpha",
        "publisher-id",
        "snap-name",
        "timestamp",
        "zeta",
        "body-length",
        "sign-key-sha3-384",
    ]
    assert signed.header("body-length") == "8"
    assert signed.sign_key_sha3_384 == small_key.key_id
    assert (signed.revision, signed.format) == (3, 1)
    verify_chain(signed, [small_account_key])


def test_zero_format_and_revision_and_empty_body_are_omitted(small_key: SigningKey) -> None:
    headers = {"type": "account", "authority-id": "a", "account-id": "a", "revision": "0"}
    signed = sign_assertion(headers | {"format": "0"}, small_key)
    assert signed.content.decode().split("\n") == [
        "type: account",
        "authority-id: a",
        "account-id: a",
        f"sign-key-sha3-384: {small_key.key_id}",
    ]
    assert signed.revision == 0


def test_default_provenance_is_not_written(small_key: SigningKey) -> None:
    base = {"type": "snap-revision", "authority-id": "brand", "snap-sha3-384": SNAP_SHA3}
    default = sign_assertion(base, small_key)
    explicit = sign_assertion(base | {"provenance": "global-upload"}, small_key)
    other = sign_assertion(base | {"provenance": "delegated"}, small_key)
    assert b"provenance" not in default.content
    assert default.content == explicit.content
    assert default.header("provenance") == "global-upload"
    assert default.primary_key == (SNAP_SHA3, "global-upload")
    assert default.reduced_primary_key == (SNAP_SHA3,)
    assert other.reduced_primary_key == other.primary_key == (SNAP_SHA3, "delegated")
    assert other.content.split(b"\n")[3] == b"provenance: delegated"


def test_structured_values_round_trip(small_key: SigningKey, small_account_key: Assertion) -> None:
    headers: dict[str, HeaderValue] = {
        "type": "model",
        "authority-id": "brand",
        "series": "16",
        "brand-id": "brand",
        "model": "box",
        "description": "first line\n\nthird line\n",
        "snaps": [
            {"name": "pc", "type": "gadget", "modes": ["run", "install"]},
            {"name": "core22", "type": "base"},
        ],
        "nested": {"list": [["a", "b"], "c\nd", {"deep": {"deeper": "x"}}], "empty": []},
        "unused": {},
    }
    signed = sign_assertion(headers, small_key, b"body text\n")
    expected = {k: v for k, v in headers.items() if k != "unused"}
    expected["nested"] = {"list": [["a", "b"], "c\nd", {"deep": {"deeper": "x"}}]}
    for name, value in expected.items():
        assert signed.headers[name] == value
    assert "unused" not in signed.headers
    verify_signature(signed, small_account_key)
    assert parse_assertion(signed.raw).raw == signed.raw
    resigned = sign_assertion(signed.headers, small_key, signed.body)
    assert resigned.content == signed.content


def test_signing_refuses_bad_headers(small_key: SigningKey) -> None:
    good: dict[str, HeaderValue] = {"type": "account", "authority-id": "a", "account-id": "a"}
    bad_inputs: list[dict[str, HeaderValue]] = [
        {"authority-id": "a", "account-id": "a"},
        good | {"type": "no-such-type"},
        {"type": "account", "account-id": "a"},
        good | {"account-id": "a/b"},
        good | {"account-id": ""},
        good | {"Bad-Name": "x"},
        good | {"revision": "-1"},
        good | {"revision": "01"},
        {"type": "device-session-request", "authority-id": "a"},
    ]
    for headers in bad_inputs:
        with pytest.raises(AssertionFormatError):
            sign_assertion(headers, small_key)
    with pytest.raises(AssertionFormatError):
        sign_assertion(good, small_key, b"\xff not utf8")


def test_authority_must_own_the_key(root_key: SigningKey, small_key: SigningKey) -> None:
    key_of_other_account = make_account_key(small_key, "someone-else", root_key)
    headers = {"type": "account", "authority-id": "brand", "account-id": "brand"}
    with pytest.raises(SignatureError, match="belongs to"):
        verify_signature(sign_assertion(headers, small_key), key_of_other_account)


def test_tampered_account_key_body_is_refused(
    small_key: SigningKey, root_key: SigningKey, root_account_key: Assertion
) -> None:
    imposter = make_account_key(root_key, "brand", root_key)
    swapped = sign_assertion(
        imposter.headers | {"public-key-sha3-384": small_key.key_id}, root_key, imposter.body
    )
    verify_signature(swapped, root_account_key)  # validly signed, but the body lies
    headers = {"type": "account", "authority-id": "brand", "account-id": "brand"}
    with pytest.raises(SignatureError, match="does not match its body"):
        verify_signature(sign_assertion(headers, small_key), swapped)


def test_device_signed_request(small_key: SigningKey) -> None:
    headers = {
        "type": "device-session-request",
        "brand-id": "brand",
        "model": "box",
        "serial": "42",
        "nonce": "n",
        "timestamp": TIMESTAMP,
    }
    request = sign_assertion(headers, small_key)
    assert "authority-id" not in request.headers
    assert request.authority_id == ""
    device_key = public_key_from_body(small_key.public_key_body())
    verify_signature_with_key(request, device_key)
    tampered = parse_assertion(request.raw.replace(b"nonce: n", b"nonce: m"))
    with pytest.raises(SignatureError):
        verify_signature_with_key(tampered, device_key)


def test_sha256_signatures_verify(small_key: SigningKey) -> None:
    """Verification follows the hash named in the packet; snapd itself signs with SHA-512."""
    signed = sign_assertion({"type": "account", "authority-id": "a", "account-id": "a"}, small_key)
    prefix = openpgp.hashed_signature_prefix(openpgp.HASH_SHA256, 1_700_000_000)
    digest = hashlib.sha256(signed.content + openpgp.signed_suffix(prefix)).digest()
    raw_signature = small_key.private_key.sign(
        digest, padding.PKCS1v15(), Prehashed(hashes.SHA256())
    )
    packet = openpgp.encode_signature_packet(
        prefix, b"", digest[:2], int.from_bytes(raw_signature, "big")
    )
    resigned = parse_assertion(signed.content + b"\n\n" + encode_v1(packet) + b"\n")
    verify_signature_with_key(resigned, small_key.public_key)
