"""Assertions on disk: one file per assertion, served byte-exact."""

from __future__ import annotations

import os
from pathlib import Path

from shared.assertions import (
    OPTIONAL_PRIMARY_KEY_DEFAULTS,
    PRIMARY_KEYS,
    SEQUENCE_FORMING_TYPES,
    Assertion,
    parse_assertion,
)

from .layout import atomic_write

SEQUENCE_TYPES = SEQUENCE_FORMING_TYPES


def _header(assertion: Assertion, name: str) -> str | None:
    return assertion.header(name)


def reduce_key(type_: str, key: list[str]) -> list[str] | None:
    """The reduced primary key for a GET path, or None if it has the wrong length."""
    names = PRIMARY_KEYS.get(type_)
    if names is None or len(key) > len(names) or any(not p or "/" in p for p in key):
        return None
    defaults = OPTIONAL_PRIMARY_KEY_DEFAULTS.get(type_, {})
    # Missing trailing keys must all be optional; present ones equal to defaults drop.
    if any(name not in defaults for name in names[len(key) :]):
        return None
    key = list(key)
    while key and defaults.get(names[len(key) - 1]) == key[-1]:
        key.pop()
    return key


def is_trusted_root(assertion: Assertion) -> bool:
    """Self-signed root keys and root accounts: never sent as prerequisites."""
    authority = _header(assertion, "authority-id")
    if assertion.type == "account":
        return _header(assertion, "account-id") == authority
    if assertion.type == "account-key":
        return _header(assertion, "public-key-sha3-384") == _header(assertion, "sign-key-sha3-384")
    return False


class AssertStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[Path, tuple[tuple[int, int, int], Assertion]] = {}

    def path_for(self, type_: str, reduced_key: list[str]) -> Path:
        return self.root / type_ / (",".join(reduced_key) + ".assert")

    def _load(self, path: Path) -> Assertion | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._cache.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        assertion = parse_assertion(path.read_bytes())
        self._cache[path] = (stamp, assertion)
        return assertion

    def put(self, assertion: Assertion) -> bool:
        """Store ``assertion.raw`` unless an equal or newer revision is there already."""
        path = self.path_for(assertion.type, list(assertion.reduced_primary_key))
        existing = self._load(path)
        if existing is not None and existing.revision >= assertion.revision:
            return False
        atomic_write(path, assertion.raw)
        return True

    def get(self, type_: str, key: list[str], max_format: int | None = None) -> Assertion | None:
        reduced = reduce_key(type_, key)
        if reduced is None:
            return None
        found = self._load(self.path_for(type_, reduced))
        if found is None or (max_format is not None and found.format > max_format):
            return None
        return found

    def sequences(self, type_: str, sequence_key: list[str]) -> list[int]:
        directory = self.root / type_
        prefix = ",".join(sequence_key) + ","
        out = []
        if directory.is_dir():
            for path in directory.glob("*.assert"):
                rest = path.name[: -len(".assert")]
                if rest.startswith(prefix) and rest[len(prefix) :].isdigit():
                    out.append(int(rest[len(prefix) :]))
        return sorted(out)

    def get_sequence(
        self, type_: str, sequence_key: list[str], sequence: str, max_format: int | None = None
    ) -> Assertion | None:
        """``sequence`` is ``latest`` or a number."""
        if sequence == "latest":
            known = self.sequences(type_, sequence_key)
            if not known:
                return None
            sequence = str(known[-1])
        if not sequence.isdigit():
            return None
        return self.get(type_, [*sequence_key, sequence], max_format)

    def prerequisites(self, assertion: Assertion) -> list[Assertion]:
        """Assertions needed to check ``assertion``, prerequisites first, roots left out."""
        out: list[Assertion] = []
        seen: set[tuple[str, tuple[str, ...]]] = set()
        self._collect(assertion, out, seen)
        return out[:-1]

    def _collect(
        self, assertion: Assertion, out: list[Assertion], seen: set[tuple[str, tuple[str, ...]]]
    ) -> None:
        ident = (assertion.type, tuple(assertion.reduced_primary_key))
        if ident in seen:
            return
        seen.add(ident)
        for type_, key in _direct_prerequisites(assertion):
            found = self.get(type_, key)
            if found is not None and not is_trusted_root(found):
                self._collect(found, out, seen)
        out.append(assertion)


def _direct_prerequisites(assertion: Assertion) -> list[tuple[str, list[str]]]:
    refs: list[tuple[str, list[str]]] = []
    sign_key = _header(assertion, "sign-key-sha3-384")
    if sign_key:
        refs.append(("account-key", [sign_key]))
    by_type = {
        "account-key": [("account", "account-id")],
        "snap-declaration": [("account", "publisher-id")],
        "snap-revision": [("account", "developer-id")],
        "store": [("account", "operator-id")],
        "model": [("account", "brand-id")],
        "validation-set": [("account", "account-id")],
    }
    if assertion.type == "snap-revision":
        snap_id = _header(assertion, "snap-id")
        if snap_id:
            refs.append(("snap-declaration", ["16", snap_id]))
    for type_, header in by_type.get(assertion.type, []):
        value = _header(assertion, header)
        if value:
            refs.append((type_, [value]))
    return refs
