"""The snap catalogue: ``DIR/catalogue.json`` and the queries the Store API needs.

A snap with ``private`` set is shown only to requests that carry store credentials the
simulator accepts (``access.py``); handlers take ``Catalogue.visible(credentialed)``, in which
a private snap is simply absent for everyone else. Catalogues written before ``private``
existed load as all public."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .channels import RISKS, Channel, parse_channel
from .layout import DataDir, write_json

FORMAT = 1


@dataclass
class Revision:
    revision: int
    version: str
    arch: str
    channels: list[str]
    file: str
    type: str = "app"
    base: str | None = "core22"
    confinement: str = "strict"
    size: int | None = None
    sha3_384: str | None = None
    released_at: str = ""
    created_at: str = ""
    snap_yaml: str = ""
    build: dict[str, Any] | None = None  # set while the blob is not built yet

    @property
    def pending(self) -> bool:
        return self.build is not None

    def matches_arch(self, arch: str | None) -> bool:
        return arch is None or self.arch in ("all", arch)

    @property
    def architectures(self) -> list[str]:
        return [self.arch]


@dataclass
class Snap:
    name: str
    snap_id: str
    publisher: dict[str, str]
    summary: str = ""
    description: str = ""
    title: str = ""
    license: str = "MIT"
    categories: list[str] = field(default_factory=list)
    revisions: list[Revision] = field(default_factory=list)
    private: bool = False

    def revision(self, number: int) -> Revision | None:
        return next((rev for rev in self.revisions if rev.revision == number), None)

    def in_channel(self, channel: Channel, arch: str | None) -> Revision | None:
        """The revision released to exactly ``channel`` for ``arch`` (highest wins)."""
        found = [
            rev for rev in self.revisions if channel.full in rev.channels and rev.matches_arch(arch)
        ]
        return max(found, key=lambda rev: rev.revision) if found else None

    def resolve(self, channel: Channel, arch: str | None) -> tuple[Revision, Channel] | None:
        """Follow closed channels towards stable, like the Store."""
        for candidate in channel.fall_through():
            rev = self.in_channel(candidate, arch)
            if rev is not None:
                return rev, candidate
        return None

    def releases(self) -> list[tuple[str, Channel, Revision]]:
        """Every (architecture, channel, revision) release, in a stable order."""
        out = []
        for rev in sorted(self.revisions, key=lambda r: (r.arch, r.revision)):
            for name in rev.channels:
                out.append((rev.arch, parse_channel(name), rev))
        return sorted(out, key=lambda item: (item[0], _channel_order(item[1])))

    def release(self, rev: Revision, channel: str) -> None:
        """Put ``rev`` into ``channel``, replacing what the same architecture had there."""
        full = parse_channel(channel).full
        for other in self.revisions:
            if other is not rev and other.arch == rev.arch and full in other.channels:
                other.channels.remove(full)
        if full not in rev.channels:
            rev.channels.append(full)

    def tracks(self) -> list[str]:
        seen: list[str] = []
        for _arch, channel, _rev in self.releases():
            if channel.track not in seen:
                seen.append(channel.track)
        return seen


def _channel_order(channel: Channel) -> tuple[bool, str, int, str]:
    return (channel.track != "latest", channel.track, RISKS.index(channel.risk), channel.branch)


class Catalogue:
    def __init__(self, snaps: list[Snap] | None = None) -> None:
        self.snaps: dict[str, Snap] = {}
        self._ids: dict[str, Snap] = {}
        for snap in snaps or []:
            self.add(snap)

    def add(self, snap: Snap) -> None:
        self.snaps[snap.name] = snap
        self._ids[snap.snap_id] = snap

    def by_name(self, name: str) -> Snap | None:
        return self.snaps.get(name)

    def by_id(self, snap_id: str) -> Snap | None:
        snap = self._ids.get(snap_id)
        if snap is not None and self.snaps.get(snap.name) is snap:
            return snap
        return next((s for s in self.snaps.values() if s.snap_id == snap_id), None)

    def by_file(self, file_name: str) -> tuple[Snap, Revision] | None:
        for snap in self.snaps.values():
            for rev in snap.revisions:
                if rev.file == file_name:
                    return snap, rev
        return None

    def visible(self, credentialed: bool) -> Catalogue:
        """The catalogue as a request sees it: without credentials, private snaps are absent."""
        if credentialed or not any(snap.private for snap in self.snaps.values()):
            return self
        return Catalogue([snap for snap in self.snaps.values() if not snap.private])

    def pending(self) -> list[tuple[Snap, Revision]]:
        return [(s, r) for s in self.snaps.values() for r in s.revisions if r.pending]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "snaps": [_snap_to_json(s) for s in sorted(self.snaps.values(), key=lambda s: s.name)],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Catalogue:
        return cls([_snap_from_json(item) for item in data.get("snaps", [])])


def _kebab(value: dict[str, Any]) -> dict[str, Any]:
    return {key.replace("_", "-"): item for key, item in value.items()}


def _snake(value: dict[str, Any]) -> dict[str, Any]:
    return {key.replace("-", "_"): item for key, item in value.items()}


def _snap_to_json(snap: Snap) -> dict[str, Any]:
    data = _kebab(asdict(snap))
    data["revisions"] = [
        _kebab(asdict(rev)) for rev in sorted(snap.revisions, key=lambda r: r.revision)
    ]
    return data


def _snap_from_json(data: dict[str, Any]) -> Snap:
    fields = _snake(data)
    revisions = [Revision(**_snake(rev)) for rev in fields.pop("revisions", [])]
    return Snap(**fields, revisions=revisions)


def load_catalogue(path: Path) -> Catalogue:
    if not path.exists():
        return Catalogue()
    return Catalogue.from_json(json.loads(path.read_bytes()))


class CatalogueStore:
    """The catalogue of a data directory, reloaded whenever the file changes."""

    def __init__(self, data: DataDir) -> None:
        self.data = data
        self._stamp: tuple[int, int, int] | None = None
        self._catalogue = Catalogue()

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.data.catalogue)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def get(self) -> Catalogue:
        stamp = self._file_stamp()
        if stamp != self._stamp:
            self._catalogue = load_catalogue(self.data.catalogue)
            self._stamp = stamp
        return self._catalogue

    def update(self, change: Callable[[Catalogue], None]) -> Catalogue:
        """Read-modify-write under the data directory lock."""
        with self.data.locked():
            catalogue = load_catalogue(self.data.catalogue)
            change(catalogue)
            write_json(self.data.catalogue, catalogue.to_json())
        return self.get()
