"""The assertion header grammar (snapd `asserts/headers.go`), parsed and encoded.

Values are strings, lists or maps, nested. A value with a newline is written as
4-space-indented text; list entries are `<base>  -`, map entries `<base>  key:`; nested
blocks move the base indent by 2. Empty lists and maps are not written.
"""

from __future__ import annotations

import re
from typing import Final, TypeAlias

from .errors import AssertionFormatError

HeaderValue: TypeAlias = str | list["HeaderValue"] | dict[str, "HeaderValue"]

HEADER_NAME: Final = re.compile(r"[a-z](?:-?[a-z0-9])*")
# snapd has no limit; this one keeps the recursive parser far from Python's stack limit.
MAX_NESTING: Final = 64
_LIST_MARK: Final = "-"


def is_header_name(name: str) -> bool:
    """Whether `name` is a valid header name or map key."""
    return HEADER_NAME.fullmatch(name) is not None


def parse_headers(head: bytes) -> dict[str, HeaderValue]:
    """Parse the header block of an assertion (without the blank line after it)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise AssertionFormatError("header is not utf8") from None
    lines = text.split("\n")
    headers: dict[str, HeaderValue] = {}
    i = 0
    while i < len(lines):
        entry = lines[i]
        colon = entry.find(":")
        if colon == -1:
            raise AssertionFormatError(f"header entry missing ':' separator: {entry!r}")
        name = entry[:colon]
        if not is_header_name(name):
            raise AssertionFormatError(f"invalid header name: {name!r}")
        value, i = _parse_entry(lines, i, colon + 1, 0, 0)
        if name in headers:
            raise AssertionFormatError(f"repeated header: {name!r}")
        headers[name] = value
    return headers


def _parse_entry(
    lines: list[str], first: int, consumed: int, base_indent: int, depth: int
) -> tuple[HeaderValue, int]:
    entry = lines[first]
    after = first + 1
    if consumed == len(entry):
        if depth >= MAX_NESTING:
            raise AssertionFormatError("header values nested too deeply")
        block_prefix = " " * base_indent + "  "
        if after < len(lines) and lines[after].startswith(block_prefix):
            rest = lines[after][len(block_prefix) :]
            if rest.startswith(_LIST_MARK):
                return _parse_list(lines, after, base_indent, depth + 1)
            if rest and rest[0] != " ":
                return _parse_map(lines, after, base_indent, depth + 1)
        return _parse_multiline_text(lines, after, base_indent)
    if entry[consumed] != " ":
        raise AssertionFormatError(
            f"header entry should have a space or newline (for multiline) before value: {entry!r}"
        )
    return entry[consumed + 1 :], after


def _parse_multiline_text(lines: list[str], first: int, base_indent: int) -> tuple[str, int]:
    prefix = " " * (base_indent + 4)
    end = first
    while end < len(lines) and lines[end].startswith(prefix):
        end += 1
    if end == first:
        raise AssertionFormatError(
            f"expected {len(prefix)} chars nesting prefix after multiline introduction "
            f"{lines[first - 1]!r}"
        )
    return "\n".join(line[len(prefix) :] for line in lines[first:end]), end


def _parse_list(
    lines: list[str], first: int, base_indent: int, depth: int
) -> tuple[list[HeaderValue], int]:
    prefix = " " * base_indent + "  " + _LIST_MARK
    items: list[HeaderValue] = []
    j = first
    while j < len(lines) and lines[j].startswith(prefix):
        item, j = _parse_entry(lines, j, len(prefix), base_indent + 2, depth)
        items.append(item)
    return items, j


def _parse_map(
    lines: list[str], first: int, base_indent: int, depth: int
) -> tuple[dict[str, HeaderValue], int]:
    prefix = " " * base_indent + "  "
    entries: dict[str, HeaderValue] = {}
    j = first
    while j < len(lines) and lines[j].startswith(prefix):
        entry = lines[j][len(prefix) :]
        colon = entry.find(":")
        if colon == -1:
            raise AssertionFormatError(f"map entry missing ':' separator: {entry!r}")
        key = entry[:colon]
        if not is_header_name(key):
            raise AssertionFormatError(f"invalid map entry key: {key!r}")
        value, j = _parse_entry(lines, j, len(prefix) + colon + 1, len(prefix), depth)
        if key in entries:
            raise AssertionFormatError(f"repeated map entry: {key!r}")
        entries[key] = value
    return entries, j


def prune_value(value: object, depth: int = 0) -> HeaderValue | None:
    """Check a value's types and names; return it without empty lists/maps (None if empty)."""
    if depth > MAX_NESTING:
        raise AssertionFormatError("header values nested too deeply")
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        items = [prune_value(item, depth + 1) for item in value]
        kept = [item for item in items if item is not None]
        return kept or None
    if isinstance(value, dict):
        entries: dict[str, HeaderValue] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not is_header_name(key):
                raise AssertionFormatError(f"invalid map entry key: {key!r}")
            pruned = prune_value(item, depth + 1)
            if pruned is not None:
                entries[key] = pruned
        return entries or None
    raise AssertionFormatError(
        f"header values must be strings or nested lists or maps of strings, not {value!r}"
    )


def encode_header(name: str, value: HeaderValue) -> str:
    """Encode one header entry (no leading or trailing newline); `value` must be pruned."""
    parts: list[str] = []
    _append_entry(parts, name + ":", value, 0)
    return "".join(parts)[1:]


def _append_entry(parts: list[str], intro: str, value: HeaderValue, base_indent: int) -> None:
    if isinstance(value, str):
        if "\n" in value:
            prefix = " " * (base_indent + 4)
            parts.append(f"\n{intro}\n{prefix}" + value.replace("\n", "\n" + prefix))
        else:
            parts.append(f"\n{intro} {value}")
    elif isinstance(value, list):
        parts.append("\n" + intro)
        prefix = " " * base_indent + "  " + _LIST_MARK
        for item in value:
            _append_entry(parts, prefix, item, base_indent + 2)
    else:
        parts.append("\n" + intro)
        prefix = " " * base_indent + "  "
        for key in sorted(value):
            _append_entry(parts, f"{prefix}{key}:", value[key], len(prefix))
