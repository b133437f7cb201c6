"""``push-snap``, ``list-pushed-snaps`` and ``delete-pushed-snap``: the offline proxy's side.

An import reads the whole bundle first: each blob goes to a partial file of the blob store
while it is hashed, the small files to memory; then the manifest, every digest and size,
every snap record and every assertion (signatures up to a trusted root) are checked.
Only then is anything changed, in one database transaction over the revisions, assertions
and downloads schemas; the new blobs are moved into place inside it, and removed again if
the transaction does not commit. A bundle that fails leaves no trace; the same bundle
imported twice changes nothing.

These commands connect to the database and the blob store themselves (like ``db upgrade``),
on the proxy's host: the transaction must span three services' tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from services.assertions import repository as assertions_repo
from services.assertions.keys import join_key
from services.downloads import repository as downloads_repo
from services.downloads.storage import BlobStore, BlobWriter, create_blob_store
from services.revisions import pushed_repository as pushed_repo
from services.revisions import pushed_summary
from services.revisions.pushed_summary import PushedSummary
from shared.assertions import load_trusted_roots, sha3_384_hex_to_b64
from shared.db import create_engine, create_sessionmaker
from shared.models import utcnow
from shared.offline.bundle import ReadBundle, Sink, read_bundle
from shared.offline.verify import Verified, verify_contents
from shared.settings import Settings


class BlobSink(Sink):
    """A blob on its way into the store: a partial file until :meth:`commit`."""

    def __init__(self, store: BlobStore, sha3_384: str) -> None:
        self.store = store
        self.sha3_384 = sha3_384
        self.present = store.find(sha3_384) is not None
        self.writer: BlobWriter | None = None
        if not self.present:
            self.writer = store.writer(store.new_partial(sha3_384), sha3_384)

    def write(self, chunk: bytes) -> None:
        if self.writer is not None:
            self.writer.write(chunk)

    def hexdigest(self) -> str | None:
        return self.writer.hasher.hexdigest() if self.writer is not None else None

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
            self.writer = None

    def finish(self) -> None:
        """fsync the partial file (before the transaction: it holds locks meanwhile)."""
        if self.writer is not None:
            self.writer.finish()

    def commit(self) -> bool:
        """Move the finished blob into place; True when it was not there before."""
        if self.writer is None:
            return False
        self.store.commit(self.writer, self.sha3_384)
        self.writer = None
        return True


@dataclass
class ImportReport:
    snaps: list[str]
    changes: int = 0
    new_blobs: int = 0
    imported_bytes: int = 0


def read_and_verify(
    settings: Settings, path: Path, progress: Callable[[int], None] | None = None
) -> tuple[ReadBundle, Verified, BlobStore]:
    """Everything checked, nothing changed (BundleError says what is wrong)."""
    store = create_blob_store(settings)
    bundle = read_bundle(path, lambda sha3: BlobSink(store, sha3), progress)
    try:
        roots = load_trusted_roots(settings.trusted_root_keys)
        verified = verify_contents(bundle, roots, lambda sha3: store.find(sha3) is not None)
    except BaseException:
        for sink in bundle.blobs.values():
            sink.abort()
        raise
    return bundle, verified, store


async def _write_rows(session: AsyncSession, verified: Verified) -> int:
    changes = 0
    for snap in verified.snaps:
        changes += await pushed_repo.save_snap(
            session, snap_id=snap.snap_id, name=snap.name, info=snap.info, find=snap.find
        )
        for revision in snap.revisions:
            changes += await pushed_repo.save_revision(
                session,
                pushed_repo.RevisionRow(
                    snap.snap_id,
                    snap.name,
                    revision.revision,
                    revision.architectures,
                    revision.sha3_384,
                    revision.size,
                    revision.snap,
                ),
            )
            changes += await downloads_repo.add_pushed_entry(
                session,
                sha3_384=revision.sha3_384,
                snap_id=snap.snap_id,
                name=snap.name,
                revision=revision.revision,
                size=revision.size,
            )
        for architecture, channel, number in snap.channels:
            changes += await pushed_repo.save_channel(
                session,
                pushed_repo.ChannelRow(snap.snap_id, snap.name, architecture, channel, number),
            )
    now = utcnow()
    for item in verified.assertions:
        assertion = item.assertion
        key = join_key(assertion.primary_key)
        stored = await assertions_repo.get(session, assertion.type, key)
        if stored is not None and (
            stored.encoded == item.encoded or stored.revision > assertion.revision
        ):
            continue
        await assertions_repo.upsert(
            session,
            type_name=assertion.type,
            primary_key=key,
            revision=assertion.revision,
            format=assertion.format,
            authority_id=assertion.authority_id,
            sign_key_sha3_384=assertion.sign_key_sha3_384,
            encoded=item.encoded,
            fetched_at=now,
        )
        changes += 1
    return changes


async def apply_import(
    settings: Settings, bundle: ReadBundle, verified: Verified, store: BlobStore
) -> ImportReport:
    """One transaction; the new blobs moved into place inside it (removed if it fails)."""
    engine = create_engine(settings, application_name="snap-proxy-push-snap")
    sessionmaker = create_sessionmaker(engine)
    sinks = [s for s in bundle.blobs.values() if isinstance(s, BlobSink)]
    placed: list[str] = []
    report = ImportReport([snap.name for snap in verified.snaps])
    try:
        for sink in sinks:
            await asyncio.to_thread(sink.finish)
        async with sessionmaker() as session, session.begin():
            for sink in sinks:
                if await asyncio.to_thread(sink.commit):
                    placed.append(sink.sha3_384)
            report.changes = await _write_rows(session, verified)
            await session.flush()
    except BaseException:
        for sink in sinks:
            sink.abort()
        for sha3 in placed:
            await asyncio.to_thread(store.delete, sha3)
        raise
    finally:
        await engine.dispose()
    sizes = {r.sha3_384: r.size for s in verified.snaps for r in s.revisions}
    report.new_blobs = len(placed)
    report.imported_bytes = sum(sizes.get(sha3, 0) for sha3 in placed)
    return report


async def list_pushed(settings: Settings) -> list[PushedSummary]:
    engine = create_engine(settings, application_name="snap-proxy-list-pushed")
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await pushed_summary.summaries(session)
    finally:
        await engine.dispose()


class NotPushed(LookupError):
    """No such imported snap or revision."""


@dataclass
class DeleteReport:
    revisions: list[int] = field(default_factory=list)
    snap_gone: bool = False
    blobs: int = 0


async def delete_pushed(settings: Settings, name: str, revision: int | None) -> DeleteReport:
    """Remove an imported snap (or one revision): its rows, its channels, its pinned cache
    entries and assertions, in one transaction; then its blob files."""
    engine = create_engine(settings, application_name="snap-proxy-delete-pushed")
    report = DeleteReport()
    unused: list[str] = []
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            found = await pushed_repo.snaps(session, name)
            if not found:
                raise NotPushed(f"snap {name!r} is not imported (see list-pushed-snaps)")
            snap = found[0]
            revisions = await pushed_repo.revisions(session, snap.snap_id)
            doomed = [r for r in revisions if revision is None or r.revision == revision]
            if not doomed:
                raise NotPushed(f"revision {revision} of {name} is not imported")
            report.revisions = [r.revision for r in doomed]
            await pushed_repo.delete_revisions(session, snap.snap_id, report.revisions)
            report.snap_gone = len(doomed) == len(revisions)
            if report.snap_gone:
                await pushed_repo.delete_snap(session, snap.snap_id)
                await assertions_repo.delete_matching(
                    session, "snap-declaration", join_key(("16", snap.snap_id))
                )
            for row in doomed:
                await assertions_repo.delete_matching(
                    session, "snap-revision", sha3_384_hex_to_b64(row.sha3_384) + "/"
                )
                if not await pushed_repo.uses_blob(session, row.sha3_384):
                    await downloads_repo.delete_entry(session, row.sha3_384)
                    unused.append(row.sha3_384)
    finally:
        await engine.dispose()
    store = create_blob_store(settings)
    for sha3 in unused:
        await asyncio.to_thread(store.delete, sha3)
    report.blobs = len(unused)
    return report


async def missing_essentials(settings: Settings) -> list[str]:
    """What devices will miss in airgap mode: bases imported snaps need, and snapd."""
    engine = create_engine(settings, application_name="snap-proxy-status")
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await pushed_summary.missing_essentials(session)
    finally:
        await engine.dispose()
