"""Parsing keeps the exact bytes, so re-emitting is byte-identical (single and stream)."""

from __future__ import annotations

import pytest

from shared.assertions import (
    Assertion,
    AssertionFormatError,
    SigningKey,
    encode_stream,
    parse_assertion,
    parse_stream,
    sign_assertion,
    verify_chain,
)

from .support import FIXTURE_NAMES, TIMESTAMP, canonical


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_single_reemits_exactly(genuine_bytes: dict[str, bytes], name: str) -> None:
    data = genuine_bytes[name]
    assertion = parse_assertion(data)
    # The fixture files lack snapd's closing newline; raw restores it and nothing else.
    assert assertion.raw == canonical(data)
    assert assertion.raw == assertion.content + b"\n\n" + assertion.signature + b"\n"
    again = parse_assertion(assertion.raw)
    assert again == assertion
    assert again.raw == assertion.raw
    assert parse_stream(data) == [assertion]


def test_stream_of_all_five(genuine_bytes: dict[str, bytes], genuine: dict[str, Assertion]) -> None:
    stream = b"\n".join(canonical(genuine_bytes[name]) for name in FIXTURE_NAMES)
    decoded = parse_stream(stream)
    assert [a.raw for a in decoded] == [genuine[name].raw for name in FIXTURE_NAMES]
    assert b"\n".join(a.raw for a in decoded) == stream
    assert encode_stream(decoded) == stream
    assert parse_stream(encode_stream(decoded)) == decoded
    for assertion in decoded:
        verify_chain(assertion, decoded)


def test_stream_endings(genuine_bytes: dict[str, bytes]) -> None:
    stream = encode_stream(parse_assertion(genuine_bytes[name]) for name in FIXTURE_NAMES)
    assert stream.endswith(b"==\n")
    assert len(parse_stream(stream + b"\n")) == 5  # a trailing blank line is tolerated
    assert len(parse_stream(stream[:-1])) == 5  # so is a missing final newline
    assert parse_stream(b"") == []
    with pytest.raises(AssertionFormatError):
        parse_stream(stream + b"\n\n")
    with pytest.raises(AssertionFormatError):
        parse_stream(stream + b"type: account")


def test_single_decoder_rejects_a_stream(genuine_bytes: dict[str, bytes]) -> None:
    stream = canonical(genuine_bytes["account-canonical"]) + b"\n" + genuine_bytes["model"]
    with pytest.raises(AssertionFormatError):
        parse_assertion(stream)


@pytest.mark.parametrize(
    "body",
    [b"one line", b"\n\nblank lines\n\ninside\n\n", b"trailing newline\n", b"\nleading"],
)
def test_bodies_with_blank_lines(
    small_key: SigningKey, small_account_key: Assertion, body: bytes
) -> None:
    headers = {
        "type": "repair",
        "authority-id": "brand",
        "brand-id": "brand",
        "repair-id": "1",
        "timestamp": TIMESTAMP,
    }
    signed = sign_assertion(headers, small_key, body)
    assert signed.body == body
    assert parse_assertion(signed.raw) == signed
    stream = encode_stream([signed, small_account_key, signed])
    assert [a.raw for a in parse_stream(stream)] == [signed.raw, small_account_key.raw, signed.raw]
    verify_chain(parse_stream(stream)[0], [small_account_key])


def test_stream_body_length_is_honoured(small_key: SigningKey) -> None:
    headers = {"type": "repair", "authority-id": "brand", "brand-id": "brand", "repair-id": "7"}
    signed = sign_assertion(headers, small_key, b"body")
    short = signed.raw.replace(b"body-length: 4", b"body-length: 3")
    with pytest.raises(AssertionFormatError):
        parse_stream(short)
    with pytest.raises(AssertionFormatError):
        parse_assertion(short)
    truncated = signed.content
    with pytest.raises(AssertionFormatError):
        parse_stream(truncated)


def test_weird_but_valid_separator(small_key: SigningKey) -> None:
    """snapd accepts a bodyless assertion whose content ends in a blank line."""
    signed = sign_assertion({"type": "account", "authority-id": "a", "account-id": "a"}, small_key)
    odd = signed.content + b"\n\n\n\n" + signed.signature + b"\n"
    assert parse_stream(odd)[0].raw == odd
    assert parse_assertion(odd).raw == odd
    assert parse_assertion(odd).content == signed.content + b"\n\n"


def test_limits() -> None:
    huge_header = b"type: account\nx: " + b"a" * (128 * 1024) + b"\n\nAQ==\n"
    with pytest.raises(AssertionFormatError, match="maximum size"):
        parse_assertion(huge_header)
    with pytest.raises(AssertionFormatError, match="maximum size"):
        parse_stream(huge_header)
    huge_body = b"type: account\nbody-length: 3000000\n\n" + b"a" * 3_000_000 + b"\n\nAQ==\n"
    with pytest.raises(AssertionFormatError, match="maximum size"):
        parse_assertion(huge_body)
    with pytest.raises(AssertionFormatError, match="maximum size"):
        parse_stream(huge_body)
