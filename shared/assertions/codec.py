"""Decoding single assertions and streams, as snapd's `Decode` and `Decoder` do."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from .assertion import Assertion
from .assertion_types import (
    MAX_BODY_SIZE,
    MAX_HEADERS_SIZE,
    MAX_SIGNATURE_SIZE,
    NO_AUTHORITY_TYPES,
    OPTIONAL_PRIMARY_KEY_DEFAULTS,
    PRIMARY_KEYS,
)
from .errors import AssertionFormatError
from .headers import HeaderValue, parse_headers
from .keybody import decode_v1

_NLNL: Final = b"\n\n"
# snapd's atoi: no sign, no leading zeros; the length cap keeps values in int64.
_NON_NEGATIVE_INT: Final = re.compile(r"0|[1-9][0-9]{0,17}")
_KEY_ID: Final = re.compile(r"[A-Za-z0-9_-]{64}")


def parse_assertion(data: bytes) -> Assertion:
    """Decode one encoded assertion.

    Like snapd, the signature starts after the last blank line and the body after the
    first one.
    """
    data = bytes(data)
    split = data.rfind(_NLNL)
    if split == -1:
        raise AssertionFormatError("assertion content/signature separator not found")
    content = data[:split]
    signature = data[split + 2 :]
    head_end = content.find(_NLNL)
    if head_end == -1:
        head, body = content, b""
    else:
        head, body = content[:head_end], content[head_end + 2 :]
    if len(head) > MAX_HEADERS_SIZE:
        raise AssertionFormatError("assertion headers exceed the maximum size")
    if len(body) > MAX_BODY_SIZE:
        raise AssertionFormatError("assertion body exceeds the maximum size")
    return _assemble(parse_headers(head), body, content, signature)


def parse_stream(data: bytes) -> list[Assertion]:
    """Decode a stream of assertions separated by blank lines (snapd's `Decoder`).

    Headers end at the first blank line, then exactly `body-length` body bytes and a
    blank line follow, and the signature runs to the next blank line or the end.
    """
    data = bytes(data)
    assertions: list[Assertion] = []
    pos = 0
    while pos < len(data):
        head_end = data.find(_NLNL, pos)
        if head_end == -1:
            raise AssertionFormatError("unexpected end of stream while reading headers")
        if head_end - pos > MAX_HEADERS_SIZE:
            raise AssertionFormatError("assertion headers exceed the maximum size")
        headers = parse_headers(data[pos:head_end])
        length = _int_header(headers, "body-length")
        if length > MAX_BODY_SIZE:
            raise AssertionFormatError("assertion body exceeds the maximum size")
        cursor = head_end + 2
        if data.startswith(_NLNL, cursor + length):
            content_end, sig_start = cursor + length, cursor + length + 2
        elif length > 0:
            raise AssertionFormatError("missing content/signature separator")
        else:
            content_end, sig_start = head_end, cursor
        sig_end = data.find(_NLNL, sig_start)
        next_pos = len(data) if sig_end == -1 else sig_end + 2
        signature = data[sig_start:next_pos]
        if signature.endswith(_NLNL):
            signature = signature[:-1]
        body = data[cursor:content_end] if length > 0 else b""
        assertions.append(_assemble(headers, body, data[pos:content_end], signature))
        pos = next_pos
    return assertions


def encode_stream(assertions: Iterable[Assertion]) -> bytes:
    """A stream of assertions: their raw bytes separated by blank lines."""
    return b"\n".join(assertion.raw for assertion in assertions)


def _int_header(headers: dict[str, HeaderValue], name: str) -> int:
    value = headers.get(name, "0")
    if not isinstance(value, str) or not _NON_NEGATIVE_INT.fullmatch(value):
        raise AssertionFormatError(f"{name!r} header is not a non-negative integer: {value!r}")
    return int(value)


def _non_empty_string(headers: dict[str, HeaderValue], name: str) -> str:
    value = headers.get(name)
    if not isinstance(value, str) or not value:
        raise AssertionFormatError(f"{name!r} header is mandatory and must be a non-empty string")
    return value


def check_headers(headers: dict[str, HeaderValue], body: bytes) -> None:
    """snapd's type-independent header checks; fills absent optional primary keys."""
    if _int_header(headers, "body-length") != len(body):
        raise AssertionFormatError("assertion body length and declared body-length don't match")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise AssertionFormatError("assertion body is not utf8") from None
    if not _KEY_ID.fullmatch(_non_empty_string(headers, "sign-key-sha3-384")):
        raise AssertionFormatError("sign-key-sha3-384 is not a base64url SHA3-384 digest")
    type_name = _non_empty_string(headers, "type")
    if type_name not in PRIMARY_KEYS:
        raise AssertionFormatError(f"unknown assertion type: {type_name!r}")
    if type_name in NO_AUTHORITY_TYPES:
        if "authority-id" in headers:
            raise AssertionFormatError(f"{type_name!r} assertion cannot have authority-id set")
    else:
        _non_empty_string(headers, "authority-id")
    _int_header(headers, "format")
    defaults = OPTIONAL_PRIMARY_KEY_DEFAULTS.get(type_name, {})
    for name in PRIMARY_KEYS[type_name]:
        if name not in headers and name in defaults:
            headers[name] = defaults[name]
        if "/" in _non_empty_string(headers, name):
            raise AssertionFormatError(f"{name!r} primary key header cannot contain '/'")
    _int_header(headers, "revision")


def _assemble(
    headers: dict[str, HeaderValue], body: bytes, content: bytes, signature: bytes
) -> Assertion:
    check_headers(headers, body)
    if signature.endswith(b"\n"):
        signature = signature[:-1]
    if not signature:
        raise AssertionFormatError("empty assertion signature")
    if len(signature) > MAX_SIGNATURE_SIZE:
        raise AssertionFormatError("assertion signature exceeds the maximum size")
    decode_v1(signature)
    return Assertion(
        raw=content + _NLNL + signature + b"\n",
        headers=headers,
        body=body,
        content=content,
        signature=signature,
    )
