"""The ``--demo`` catalogue: real squashfs snaps from a few KiB to tens of MiB."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .catalogue import Catalogue, CatalogueStore, Revision, Snap
from .layout import DataDir
from .publish import (
    STORE_PUBLISHER,
    build_blob,
    build_revision,
    ensure_snap_assertions,
    new_revision,
    new_snap,
    publisher_for,
)
from .signing import Authority

KIB = 1024
MIB = 1024 * KIB
# Blobs up to this size are built before the server reports ready; larger ones later.
EAGER_LIMIT = 4 * MIB
# The bases and the snapd snap: just a meta/snap.yaml in a squashfs (about 4 KiB).
SYSTEM_SNAP_SIZE = 4 * KIB


@dataclass(frozen=True)
class DemoRevision:
    revision: int
    version: str
    arch: str
    channels: tuple[str, ...]


@dataclass(frozen=True)
class DemoSnap:
    name: str
    size: int
    publisher: str
    summary: str
    revisions: tuple[DemoRevision, ...]
    type: str = "app"
    base: str | None = "core22"
    confinement: str = "strict"
    categories: tuple[str, ...] = ("featured",)


R = DemoRevision
DEMO_SNAPS: tuple[DemoSnap, ...] = (
    DemoSnap(
        "hello-sim",
        8 * KIB,
        "snapsim",
        "Says hello from the simulated store",
        (
            R(1, "1.0", "amd64", ("latest/stable",)),
            R(2, "1.0", "arm64", ("latest/stable",)),
            R(3, "1.1", "amd64", ("latest/candidate", "latest/beta")),
            R(4, "1.2", "amd64", ("latest/edge",)),
            R(5, "2.0", "amd64", ("2.0/stable",)),
            R(6, "2.0", "arm64", ("2.0/stable",)),
            R(7, "2.1", "amd64", ("2.0/edge",)),
        ),
        categories=("featured", "utilities"),
    ),
    DemoSnap(
        "tiny-tool",
        64 * KIB,
        "simdev",
        "A tiny architecture-independent tool",
        (R(1, "0.1", "all", ("latest/stable",)), R(2, "0.2", "all", ("latest/edge",))),
        base="core20",
        categories=("development",),
    ),
    DemoSnap(
        "mid-app",
        2 * MIB,
        "snapsim",
        "A medium-sized classic application",
        (
            R(1, "3.0", "amd64", ("latest/stable",)),
            R(2, "3.1", "amd64", ("latest/beta",)),
            R(3, "3.0", "arm64", ("latest/stable",)),
        ),
        confinement="classic",
        categories=("productivity",),
    ),
    DemoSnap(
        "big-app",
        24 * MIB,
        "snapsim",
        "A big application",
        (R(1, "5.0", "amd64", ("latest/stable",)), R(2, "5.1", "amd64", ("latest/edge",))),
        categories=("featured", "productivity"),
    ),
    DemoSnap(
        "huge-data",
        64 * MIB,
        "simdev",
        "A huge data snap",
        (R(1, "2024.1", "all", ("latest/stable",)),),
        type="app",
        base="core22",
        categories=("science",),
    ),
    # What the apps above need before snapd installs them (its "Ensure prerequisites"
    # task): their bases, and the snapd snap for any snap with a base. Tiny snaps of the
    # right type (no base of their own, no apps), for the architectures the apps are
    # published for, in no section (like the Store's own bases).
    *(
        DemoSnap(
            name,
            SYSTEM_SNAP_SIZE,
            "snapsim",
            summary,
            (
                R(1, version, "amd64", ("latest/stable",)),
                R(2, version, "arm64", ("latest/stable",)),
            ),
            type=kind,
            base=None,
            categories=(),
        )
        for name, kind, version, summary in (
            ("core20", "base", "20240111", "Runtime environment based on Ubuntu 20.04"),
            ("core22", "base", "20240111", "Runtime environment based on Ubuntu 22.04"),
            ("snapd", "snapd", "2.57.6", "Daemon and tooling that enable snap packages"),
        )
    ),
)


def _demo_snap(spec: DemoSnap) -> Snap:
    publisher = STORE_PUBLISHER if spec.publisher == "snapsim" else publisher_for(spec.publisher)
    return new_snap(spec.name, publisher, summary=spec.summary, categories=list(spec.categories))


def _demo_revision(snap: Snap, spec: DemoSnap, item: DemoRevision) -> Revision:
    return new_revision(
        snap,
        revision=item.revision,
        version=item.version,
        arch=item.arch,
        size=spec.size,
        type_=spec.type,
        base=spec.base,
        confinement=spec.confinement,
    )


def _eager() -> Iterator[tuple[Snap, Revision]]:
    for spec in DEMO_SNAPS:
        if spec.size <= EAGER_LIMIT:
            snap = _demo_snap(spec)
            for item in spec.revisions:
                yield snap, _demo_revision(snap, spec, item)


def prebuild_demo(data: DataDir) -> None:
    """Build the small demo blobs that are missing (no keys or lock needed), in parallel."""
    data.ensure()
    todo = [(s, r) for s, r in _eager() if not (data.snaps / r.file).exists()]
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda pair: build_blob(data, *pair), todo))


def seed_demo(data: DataDir, authority: Authority) -> int:
    """Add what is missing of the demo catalogue. Small blobs are built now; returns
    the number of revisions left pending (built later by the server's BuildQueue)."""
    store = CatalogueStore(data)
    with data.locked():
        catalogue = store.get()
        changed = False
        for spec in DEMO_SNAPS:
            changed |= _seed_snap(data, authority, catalogue, spec)
        if changed:
            store.update(lambda fresh: _replace(fresh, catalogue))
        return len(store.get().pending())


def _replace(target: Catalogue, source: Catalogue) -> None:
    target.snaps = dict(source.snaps)


def _seed_snap(data: DataDir, authority: Authority, catalogue: Catalogue, spec: DemoSnap) -> bool:
    snap = catalogue.by_name(spec.name)
    changed = False
    if snap is None:
        snap = _demo_snap(spec)
        catalogue.add(snap)
        changed = True
    ensure_snap_assertions(authority, snap)
    for item in spec.revisions:
        if snap.revision(item.revision) is not None:
            continue
        rev = _demo_revision(snap, spec, item)
        if spec.size <= EAGER_LIMIT:
            build_revision(data, authority, snap, rev, reuse=True)
        snap.revisions.append(rev)
        for channel in item.channels:
            snap.release(rev, channel)
        changed = True
    return changed
