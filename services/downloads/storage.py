"""Where verified blobs live. The local backend is content-addressed by SHA3-384 in sharded
folders; the ``BlobStore`` protocol is the seam for an S3-compatible backend later.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Protocol

_SHA3_HEX = re.compile(r"^[0-9a-f]{96}$")


class BlobStore(Protocol):
    """What the cache needs of a storage backend."""

    def exists(self, sha3_384: str) -> bool: ...

    def local_path(self, sha3_384: str) -> Path:
        """The committed file (a local backend serves it directly or via X-Accel-Redirect)."""

    def accel_path(self, sha3_384: str) -> str:
        """The committed file's path below the gateway's internal ``/_cache/`` location."""

    def new_partial(self, sha3_384: str) -> Path:
        """A fresh, unique path to fill; followers open it by name."""

    def partial_path(self, name: str) -> Path: ...

    def partials_older_than(self, cutoff: float) -> list[Path]:
        """Partial files last written before ``cutoff`` (a ``time.time()`` value)."""

    def commit(self, partial: Path, sha3_384: str) -> None:
        """Atomically make a verified partial file the committed blob."""

    def delete(self, sha3_384: str) -> None: ...

    def free_bytes(self) -> int: ...

    def check_writable(self) -> None:
        """Raise when new blobs cannot be written."""


class LocalBlobStore:
    """Blobs under ``root/blobs/ab/cd/<sha3>.snap``, fills under ``root/partial/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.partials = root / "partial"
        for folder in (self.blobs, self.partials):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o755)
        root.chmod(0o755)

    @staticmethod
    def _check(sha3_384: str) -> str:
        if not _SHA3_HEX.match(sha3_384):
            raise ValueError(f"not a SHA3-384 hex digest: {sha3_384[:20]!r}")
        return sha3_384

    def _relative(self, sha3_384: str) -> str:
        digest = self._check(sha3_384)
        return f"blobs/{digest[:2]}/{digest[2:4]}/{digest}.snap"

    def local_path(self, sha3_384: str) -> Path:
        return self.root / self._relative(sha3_384)

    def accel_path(self, sha3_384: str) -> str:
        return "/_cache/" + self._relative(sha3_384)

    def exists(self, sha3_384: str) -> bool:
        return self.local_path(sha3_384).is_file()

    def new_partial(self, sha3_384: str) -> Path:
        return self.partials / f"{self._check(sha3_384)}.{uuid.uuid4().hex[:12]}.part"

    def partial_path(self, name: str) -> Path:
        if "/" in name or name.startswith("."):
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

    def commit(self, partial: Path, sha3_384: str) -> None:
        final = self.local_path(sha3_384)
        final.parent.mkdir(parents=True, exist_ok=True)
        for folder in (final.parent, final.parent.parent):
            folder.chmod(0o755)
        partial.chmod(0o644)  # the gateway's workers read it for X-Accel-Redirect
        os.replace(partial, final)

    def delete(self, sha3_384: str) -> None:
        self.local_path(sha3_384).unlink(missing_ok=True)

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def check_writable(self) -> None:
        if not os.access(self.partials, os.W_OK):
            raise RuntimeError(f"cache folder {self.partials} is not writable")
