"""An upstream answer cut into its assertions, each with its exact bytes in that answer."""

from __future__ import annotations

from dataclasses import dataclass

from shared.assertions import Assertion, AssertionFormatError, parse_assertion, parse_stream


@dataclass(frozen=True)
class Piece:
    """One assertion of an upstream answer and its exact bytes in that answer."""

    assertion: Assertion
    encoded: bytes


def split_stream(body: bytes) -> list[Piece]:
    """Decode an upstream body and cut out each assertion's exact bytes.

    An assertion's bytes are its decoded ``raw`` (content, blank line, signature, newline)
    where the body has them, or without the final newline when the body ends without one.
    """
    pieces: list[Piece] = []
    cursor = 0
    for assertion in parse_stream(body):
        raw = assertion.raw
        if body.startswith(raw, cursor):
            encoded = raw
        elif body[cursor:] == raw[:-1]:
            encoded = raw[:-1]
        else:
            raise AssertionFormatError("stream bytes do not line up with the decoded assertions")
        cursor += len(encoded)
        if body.startswith(b"\n", cursor):
            cursor += 1  # the blank line between two assertions
        pieces.append(Piece(assertion, encoded))
    return pieces


def decode_answer(body: bytes) -> list[Piece]:
    """The assertions of an upstream 200 (a stream, or one assertion snapd-style)."""
    try:
        return split_stream(body)
    except AssertionFormatError:
        # A single assertion whose body has blank lines but no body-length: snapd's
        # single-assertion decoder takes it (split at the last blank line); keep it whole.
        return [Piece(parse_assertion(body), body)]
