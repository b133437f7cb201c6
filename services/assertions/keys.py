"""What an assertion request asks for: the type, the primary key, the query, checked strictly.

Every path segment is checked before anything reaches the database or the upstream store, so
odd characters, ``..`` and wrong segment counts answer 4xx in the Store's shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from shared.assertions import (
    NO_AUTHORITY_TYPES,
    OPTIONAL_PRIMARY_KEY_DEFAULTS,
    PRIMARY_KEYS,
    SEQUENCE_FORMING_TYPES,
)
from shared.errors import BadRequest, NotFound

# Characters real primary-key values use: ids, names, base64url digests, e-mail addresses,
# serial numbers. Nothing that needs escaping in a URL path.
_SEGMENT: Final = re.compile(r"[A-Za-z0-9._~:+=@-]{1,256}")
_MAX_FORMAT: Final = re.compile(r"-?[0-9]{1,9}")
_SEQUENCE: Final = re.compile(r"[1-9][0-9]{0,17}")
MAX_SEGMENTS: Final = 8
# Query parameters of a single-assertion request; any other one marks an upstream-specific
# stream URL (such as the assertion-stream-urls of a fetch-assertions result).
KEY_PARAMETERS: Final = frozenset({"max-format", "sequence"})
LATEST: Final = "latest"


class AssertionNotFound(NotFound):
    """A not-found snapd reads as such: JSON error-list with a problem+json Content-Type."""

    media_type = "application/problem+json"


@dataclass(frozen=True)
class AssertionRequest:
    """One GET under ``/v2/assertions/`` (or the old v1 path), validated.

    Exactly one of ``key`` (the full primary key, optional values defaulted) and
    ``sequence_key`` (for ``sequence=latest`` of a sequence-forming type) is set.
    """

    type: str
    segments: tuple[str, ...]
    key: tuple[str, ...] | None
    sequence_key: tuple[str, ...] | None
    max_format: int | None
    stream: bool
    query: str

    @property
    def upstream_path(self) -> str:
        """The path asked of the upstream store (always the v2 form)."""
        return "/v2/assertions/" + "/".join((self.type, *self.segments))

    @property
    def label(self) -> str:
        return "/".join((self.type, *self.segments))


def join_key(values: Sequence[str]) -> str:
    """The ``primary_key`` column: the full primary-key values joined by ``/``."""
    return "/".join(values)


def check_type(type_name: str) -> None:
    """Unknown types, and the ones the Store never serves, are not found (as upstream says)."""
    if type_name not in PRIMARY_KEYS or type_name in NO_AUTHORITY_TYPES:
        raise AssertionNotFound(f"unknown assertion type {type_name[:64]!r}")


def check_segment(value: str) -> None:
    if not value:
        raise BadRequest("empty value in the assertion's primary key")
    if ".." in value or value == ".":
        raise BadRequest("'.' and '..' are not allowed in an assertion's primary key")
    if not _SEGMENT.fullmatch(value):
        raise BadRequest(f"invalid character in assertion primary key value {value[:64]!r}")


def parse_request(
    type_name: str, key_path: str, query: Mapping[str, Sequence[str]], raw_query: str
) -> AssertionRequest:
    """Validate the path and query; BadRequest or AssertionNotFound when they cannot be right."""
    check_type(type_name)
    segments = tuple(key_path.split("/"))
    if len(segments) > MAX_SEGMENTS:
        raise BadRequest(f"too many values in the primary key of {type_name!r}")
    for value in segments:
        check_segment(value)
    for name, values in query.items():
        if name in KEY_PARAMETERS and len(values) != 1:
            raise BadRequest(f"{name!r} must be given once")
    max_format = _max_format(query)
    sequence = query["sequence"][0] if "sequence" in query else None
    key, sequence_key = _resolve_key(type_name, segments, sequence)
    return AssertionRequest(
        type=type_name,
        segments=segments,
        key=key,
        sequence_key=sequence_key,
        max_format=max_format,
        stream=any(name not in KEY_PARAMETERS for name in query),
        query=raw_query,
    )


def _max_format(query: Mapping[str, Sequence[str]]) -> int | None:
    if "max-format" not in query:
        return None
    raw = query["max-format"][0]
    if not _MAX_FORMAT.fullmatch(raw):
        raise BadRequest("max-format must be an integer")
    value = int(raw)
    return None if value < 0 else value  # -1: the highest format there is


def _resolve_key(
    type_name: str, segments: tuple[str, ...], sequence: str | None
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    names = PRIMARY_KEYS[type_name]
    if type_name in SEQUENCE_FORMING_TYPES:
        if len(segments) == len(names) - 1:
            if sequence is None or sequence == LATEST:
                return None, segments
            if not _SEQUENCE.fullmatch(sequence):
                raise BadRequest("sequence must be 'latest' or a positive integer")
            return (*segments, sequence), None
        if len(segments) == len(names):
            if not _SEQUENCE.fullmatch(segments[-1]):
                raise BadRequest(f"the {names[-1]} of {type_name!r} must be a positive integer")
            if sequence is not None and sequence != segments[-1]:
                raise BadRequest("the sequence in the path and in the query differ")
            return segments, None
    elif len(segments) <= len(names):
        defaults = OPTIONAL_PRIMARY_KEY_DEFAULTS.get(type_name, {})
        missing = names[len(segments) :]
        if all(name in defaults for name in missing):
            return (*segments, *(defaults[name] for name in missing)), None
    raise BadRequest(
        f"{type_name!r} assertions are keyed by {'/'.join(names)}; "
        f"got {len(segments)} value{'s' if len(segments) != 1 else ''}"
    )
