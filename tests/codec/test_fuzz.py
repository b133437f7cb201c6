"""Fuzzing: the parsers raise AssertionFormatError or succeed, and verification raises
SignatureError or succeeds; nothing else ever escapes."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.assertions import (
    Assertion,
    AssertionFormatError,
    HeaderValue,
    SignatureError,
    SigningKey,
    encode_stream,
    parse_assertion,
    parse_stream,
    sign_assertion,
    verify_chain,
)

from .support import FIXTURE_NAMES, TIMESTAMP, canonical, read_fixture

FUZZ = settings(max_examples=400, deadline=None)
GENUINE = [canonical(read_fixture(name)) for name in FIXTURE_NAMES]
GENUINE_POOL = [parse_assertion(data) for data in GENUINE]
INTERESTING = [
    b"\n",
    b"\n\n",
    b" ",
    b":",
    b": ",
    b"  -",
    b"    ",
    b"\xff",
    b"=",
    b"body-length: 3\n",
]


@pytest.fixture(scope="module")
def structured(small_key: SigningKey, small_account_key: Assertion) -> list[bytes]:
    """A signed model with lists, maps and a body, streamed with its account-key."""
    headers: dict[str, HeaderValue] = {
        "type": "model",
        "authority-id": "brand",
        "series": "16",
        "brand-id": "brand",
        "model": "box",
        "timestamp": TIMESTAMP,
        "snaps": [{"name": "pc", "modes": ["run", "install"]}, {"name": "core22"}],
        "description": "multi\nline\n",
    }
    signed = sign_assertion(headers, small_key, b"a body\n\nwith a blank line\n")
    return [signed.raw, encode_stream([small_account_key, signed])]


def _check_parsed_single(data: bytes, pool: list[Assertion]) -> None:
    try:
        assertion = parse_assertion(data)
    except AssertionFormatError:
        return
    assert parse_assertion(assertion.raw) == assertion
    assert parse_stream(assertion.raw) == [assertion]
    with contextlib.suppress(SignatureError):
        verify_chain(assertion, pool)


def _check_parsed_stream(data: bytes, pool: list[Assertion]) -> None:
    try:
        assertions = parse_stream(data)
    except AssertionFormatError:
        return
    assert parse_stream(encode_stream(assertions)) == assertions
    for assertion in assertions:
        with contextlib.suppress(SignatureError):
            verify_chain(assertion, pool)


@st.composite
def mutations(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["flip", "delete", "insert", "truncate", "duplicate"]))
        if operation == "flip" and pos < len(data):
            data[pos] ^= draw(st.integers(1, 255))
        elif operation == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        elif operation == "insert":
            piece = draw(st.sampled_from(INTERESTING) | st.binary(min_size=1, max_size=8))
            data[pos:pos] = piece
        elif operation == "truncate":
            del data[pos:]
        elif operation == "duplicate":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 80))]
    return bytes(data)


HEADERISH = st.lists(st.text(alphabet="abz09-: \n", max_size=30), min_size=1, max_size=12).map(
    lambda lines: "\n".join(lines).encode()
)


@FUZZ
@given(data=st.binary(max_size=3000) | HEADERISH)
def test_random_bytes(data: bytes) -> None:
    _check_parsed_single(data, GENUINE_POOL)
    _check_parsed_single(data + b"\n\nAcLBXAQAAQoABgUCWYuXiA==\n", GENUINE_POOL)
    _check_parsed_stream(data, GENUINE_POOL)


@FUZZ
@given(data=mutations([*GENUINE, b"\n".join(GENUINE)]))
def test_mutated_genuine(data: bytes) -> None:
    _check_parsed_single(data, GENUINE_POOL)
    _check_parsed_stream(data, GENUINE_POOL)


@FUZZ
@given(draw=st.data())
def test_mutated_structured(
    draw: st.DataObject, structured: list[bytes], small_account_key: Assertion
) -> None:
    data = draw.draw(mutations(structured))
    _check_parsed_single(data, [small_account_key])
    _check_parsed_stream(data, [small_account_key])


def test_seeds_are_valid(
    structured: list[bytes], small_account_key: Assertion, root_account_key: Assertion
) -> None:
    """The mutation seeds themselves parse and verify, so the fuzzing starts from valid input."""
    pool = [*GENUINE_POOL, small_account_key, root_account_key]
    for stream in [*structured, b"\n".join(GENUINE)]:
        for assertion in parse_stream(stream):
            verify_chain(assertion, pool)
