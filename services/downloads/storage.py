"""Where verified blobs live, behind the ``BlobStore`` seam: a local folder, or an
S3-compatible bucket (``services/downloads/s3store.py``), chosen by settings in
:func:`create_blob_store`.

Both are content-addressed by SHA3-384. A fill always writes a local partial file
(``partial/<sha3>.<id>.part``) that the followers of this node read as it grows, through the
store's writer, which hashes what it writes (and, for S3, uploads it in parts as it goes);
``commit`` makes a verified fill the blob (a rename; for S3, completing the upload), never
before. Every method but ``recent`` does file-system or network I/O: callers on the event
loop run them in the blob I/O thread pool.

A local store may remember what ``find`` found for ``FOUND_VALID`` seconds (``recent``, no
I/O), as nginx's ``open_file_cache`` does: a hit on a blob found lately then needs no ``stat``
and no thread. What this process deletes or retires is forgotten at once. A file another
process deletes meanwhile is seen by the server that opens it: the gateway's nginx asks the
service again (``X-Snapproxy-Cache-Recheck``), and the service looks again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from services.downloads.expiring import Expiring
from shared.assertions import sha3_384_file
from shared.settings import Settings

SHA3_HEX = re.compile(r"[0-9a-f]{96}")
# Seconds an evicted blob's file outlives its eviction: a hit answered just before opens the
# file after the answer (the server's pathsend, nginx's X-Accel-Redirect), and still finds it.
RETIRED_GRACE = 10.0
# Seconds a found blob is remembered: under the grace, so a blob another process retired is
# still on disk whenever this one answers a hit from memory.
FOUND_VALID = RETIRED_GRACE / 2


@dataclass(frozen=True)
class StoredBlob:
    """A committed blob: its size and time, a local file (local backend), and its name
    below the store (the path under the cache root, or the object key)."""

    size: int
    modified: float
    relative: str
    path: Path | None = None
    stat: os.stat_result | None = None


class BlobWriter:
    """Writes and hashes a fill's bytes into its partial file; one per fill, every method
    in a worker thread, one call at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hasher = hashlib.sha3_384()
        self.file: IO[bytes] | None = None
        self.written = 0

    def write(self, chunk: bytes) -> None:
        if self.file is None:
            self.file = self.path.open("wb")
        self.file.write(chunk)
        self.file.flush()  # followers read the file by name at once
        self.hasher.update(chunk)
        self.written += len(chunk)

    def finish(self) -> str:
        """fsync and close; the SHA3-384 (hex) of everything written."""
        if self.file is None:
            self.file = self.path.open("wb")
        os.fsync(self.file.fileno())
        self.close()
        return self.hasher.hexdigest()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def abort(self) -> None:
        """Leave no trace of the fill."""
        self.close()
        self.path.unlink(missing_ok=True)


class BlobStore(Protocol):
    """What the cache needs of a storage backend."""

    kind: str  # "local" or "s3"

    def find(self, sha3_384: str) -> StoredBlob | None:
        """The committed blob, or None (the hit path's only I/O)."""

    def recent(self, sha3_384: str) -> StoredBlob | None:
        """What ``find`` found for this blob lately, if the store remembers it; no I/O (safe
        on the event loop). None: ask ``find``."""

    def read(self, sha3_384: str, offset: int, length: int) -> bytes:
        """Bytes of a committed blob (for followers and streamed hits without a local file)."""

    def new_partial(self, sha3_384: str) -> Path:
        """A fresh, unique path to fill; followers open it by name."""

    def partial_path(self, name: str) -> Path: ...

    def partials_older_than(self, cutoff: float) -> list[Path]:
        """Partial files last written before ``cutoff`` (a ``time.time()`` value)."""

    def digest(self, sha3_384: str) -> str | None:
        """The committed blob's SHA3-384 (hex), read whole; None when it is gone."""

    def presigned_url(self, sha3_384: str, seconds: int) -> str:
        """A URL anyone holding it may GET the committed blob from, for ``seconds``
        (object stores only)."""

    def writer(self, partial: Path, sha3_384: str) -> BlobWriter:
        """The writer of one fill into ``partial``."""

    def commit(self, writer: BlobWriter, sha3_384: str) -> None:
        """Make a finished, verified fill the committed blob (atomically visible)."""

    def delete(self, sha3_384: str) -> None: ...

    def retire(self, sha3_384: str) -> None:
        """Evict the committed blob for new requests at once, leaving its bytes a while to
        responses already under way (``drop_retired`` deletes them)."""

    def drop_retired(self, retired_before: float, sha3s: Iterable[str] | None = None) -> int:
        """Delete the files of blobs retired before ``retired_before`` (a ``time.time()``
        value): those of ``sha3s``, or every one; how many."""

    def free_bytes(self) -> int:
        """Room left for blobs (the local disk; a bucket has no such limit)."""

    def volume_bytes(self) -> int:
        """The size of the volume the partial files (and local blobs) live on."""

    def check_writable(self) -> None:
        """Raise when new blobs cannot be written."""

    def sweep_uploads(self, older_than: float) -> int:
        """Abandon uploads of fills that died before ``older_than`` (S3); how many."""


def check_sha3(sha3_384: str) -> str:
    if not SHA3_HEX.fullmatch(sha3_384):
        raise ValueError(f"not a SHA3-384 hex digest: {sha3_384[:20]!r}")
    return sha3_384


class PartialFiles:
    """The local folder of partial files every backend fills through."""

    def __init__(self, folder: Path) -> None:
        self.partials = folder
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)

    def new_partial(self, sha3_384: str) -> Path:
        return self.partials / f"{check_sha3(sha3_384)}.{uuid.uuid4().hex[:12]}.part"

    def partial_path(self, name: str) -> Path:
        if "/" in name or name.startswith(".") or not name.endswith(".part"):
            raise ValueError(f"bad partial name {name!r}")
        return self.partials / name

    def partials_older_than(self, cutoff: float) -> list[Path]:
        old = []
        for partial in self.partials.glob("*.part"):
            try:
                if partial.stat().st_mtime < cutoff:
                    old.append(partial)
            except FileNotFoundError:
                continue
        return old

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.partials).free

    def volume_bytes(self) -> int:
        return shutil.disk_usage(self.partials).total

    def check_writable(self) -> None:
        if not os.access(self.partials, os.W_OK):
            raise RuntimeError(f"cache folder {self.partials} is not writable")


class LocalBlobStore(PartialFiles):
    """Blobs under ``root/blobs/ab/cd/<sha3>.snap``, fills under ``root/partial/``."""

    kind = "local"

    def __init__(self, root: Path, remember_found: bool = False) -> None:
        """``remember_found``: only where a file deleted by another process is noticed by
        whoever sends it (the gateway's nginx), or no other process deletes any."""
        super().__init__(root / "partial")
        self.root = root
        self.found: Expiring[StoredBlob] | None = Expiring(FOUND_VALID) if remember_found else None
        self.blobs = root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.blobs.chmod(0o755)
        root.chmod(0o755)

    def _relative(self, sha3_384: str) -> str:
        digest = check_sha3(sha3_384)
        return f"blobs/{digest[:2]}/{digest[2:4]}/{digest}.snap"

    def local_path(self, sha3_384: str) -> Path:
        return self.root / self._relative(sha3_384)

    def find(self, sha3_384: str) -> StoredBlob | None:
        relative = self._relative(sha3_384)
        path = self.root / relative
        drops_seen = self.found.drops if self.found is not None else None
        try:
            stat = path.stat()
        except FileNotFoundError:
            stat = None
        if stat is None or is_retired(stat):
            self._forget(sha3_384)
            return None
        stored = StoredBlob(stat.st_size, stat.st_mtime, relative, path, stat)
        if self.found is not None:  # unless a delete or retire came in between
            self.found.put(sha3_384, stored, drops_seen)
        return stored

    def recent(self, sha3_384: str) -> StoredBlob | None:
        return self.found.get(sha3_384) if self.found is not None else None

    def _forget(self, sha3_384: str) -> None:
        if self.found is not None:
            self.found.drop(sha3_384)

    def read(self, sha3_384: str, offset: int, length: int) -> bytes:
        with self.local_path(sha3_384).open("rb") as blob:
            blob.seek(offset)
            return blob.read(length)

    def digest(self, sha3_384: str) -> str | None:
        try:
            return sha3_384_file(self.local_path(sha3_384))[0]
        except FileNotFoundError:
            return None

    def presigned_url(self, sha3_384: str, seconds: int) -> str:
        raise RuntimeError("local blobs are served from their file, not from a URL")

    def writer(self, partial: Path, sha3_384: str) -> BlobWriter:
        return BlobWriter(partial)

    def commit(self, writer: BlobWriter, sha3_384: str) -> None:
        final = self.local_path(sha3_384)
        final.parent.mkdir(parents=True, exist_ok=True)
        for folder in (final.parent, final.parent.parent):
            folder.chmod(0o755)
        writer.path.chmod(0o644)  # the gateway's workers read it for X-Accel-Redirect
        os.replace(writer.path, final)

    def delete(self, sha3_384: str) -> None:
        # Forgotten before (no hit answered from memory from now on) and after (what a
        # find racing with this one remembered).
        self._forget(sha3_384)
        self.local_path(sha3_384).unlink(missing_ok=True)
        self._forget(sha3_384)

    def retire(self, sha3_384: str) -> None:
        self._forget(sha3_384)
        # The mark is the file's mtime (0, which no fill writes); the time it was retired is
        # its ctime. A fill committed meanwhile replaces the file: it is a blob again.
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.local_path(sha3_384), (0, 0))
        self._forget(sha3_384)

    def drop_retired(self, retired_before: float, sha3s: Iterable[str] | None = None) -> int:
        paths = self.blobs.glob("*/*/*.snap") if sha3s is None else map(self.local_path, sha3s)
        dropped = 0
        for path in paths:
            try:
                stat = path.stat()
                if is_retired(stat) and stat.st_ctime < retired_before:
                    path.unlink()
                    self._forget(path.stem)
                    dropped += 1
            except FileNotFoundError:
                continue
        return dropped

    def sweep_uploads(self, older_than: float) -> int:
        return 0


def is_retired(stat: os.stat_result) -> bool:
    """A blob file ``LocalBlobStore.retire`` marked: evicted, not deleted yet."""
    return stat.st_mtime == 0


def create_blob_store(settings: Settings, *, sole_process: bool = False) -> BlobStore:
    """The blob store the settings choose (``SNAPPROXY_STORAGE_BACKEND``). A local store
    remembers found blobs behind the gateway's nginx (``accel_redirect``), or when this
    process is the only one using the cache folder (``sole_process``: the embedded
    default)."""
    if settings.storage_backend == "s3":
        from services.downloads.s3store import S3BlobStore  # botocore only when used

        return S3BlobStore.from_settings(settings)
    return LocalBlobStore(settings.cache_dir, settings.accel_redirect or sole_process)
