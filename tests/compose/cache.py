"""Files the compose test keeps between runs on the same machine, and how it trusts them.

They live outside the checkout, in ``/var/cache/snapproxy-ci`` (``SNAPPROXY_CI_CACHE``), so
a second CI run in a fresh clone on the same machine reuses them. Each file has a manifest
beside it (``NAME.json``): what it was made from (its *key*), its size and SHA-256, and
when it was made. A file is used only when all of these hold:

* the manifest exists and parses, and names the same key as the current inputs (otherwise
  the file is *stale*: the recipe, the mirror or the stand-ins' Dockerfiles changed);
* it is younger than ``MAX_AGE`` (Debian's packages move on: security updates);
* its size and SHA-256 match the manifest (otherwise it is *broken*: a run killed while
  writing it, a full disk, bit rot).

A file that fails any check is deleted and made again. A new file is written under a
temporary name and renamed into place before its manifest is written, so a run killed
half-way leaves no manifest, hence nothing that passes the checks.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CACHE_DIR = Path(os.environ.get("SNAPPROXY_CI_CACHE", "/var/cache/snapproxy-ci"))
MAX_AGE = 14 * 24 * 3600.0
LOCK_WAIT = 1800.0


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(value: Any) -> str:
    """A short digest of a JSON-able value (for keys made of many files)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def files_fingerprint(paths: list[Path], root: Path) -> str:
    """A digest of these files' names (relative to ``root``) and contents."""
    return fingerprint(
        [(str(path.relative_to(root)), sha256_of(path)) for path in sorted(paths) if path.is_file()]
    )


@dataclass
class CachedFile:
    """One cached file, valid only for ``key``."""

    path: Path
    key: dict[str, Any]

    @property
    def manifest(self) -> Path:
        return self.path.with_name(self.path.name + ".json")

    def problem(self) -> str | None:
        """Why the cached file cannot be used, or None when it can."""
        try:
            manifest = json.loads(self.manifest.read_text())
        except FileNotFoundError:
            return "not cached yet"
        except (OSError, ValueError) as exc:
            return f"unreadable manifest ({exc})"
        if manifest.get("key") != self.key:
            return f"stale: made from {manifest.get('key')}, now {self.key}"
        age = time.time() - float(manifest.get("created", 0))
        if age > MAX_AGE:
            return f"stale: {age / 86400:.1f} days old (limit {MAX_AGE / 86400:.0f})"
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return "broken: manifest without its file"
        if size != manifest.get("size"):
            return f"broken: {size} bytes, the manifest says {manifest.get('size')}"
        if sha256_of(self.path) != manifest.get("sha256"):
            return "broken: SHA-256 differs from the manifest"
        return None

    def temporary(self) -> Path:
        """Where to write a new version before :meth:`store`."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")

    def store(self, new_file: Path) -> None:
        """Move ``new_file`` into place, then write the manifest that vouches for it."""
        self.drop()
        record = {
            "key": self.key,
            "size": new_file.stat().st_size,
            "sha256": sha256_of(new_file),
            "created": time.time(),
        }
        new_file.replace(self.path)
        temporary_manifest = self.manifest.with_name(self.manifest.name + ".tmp")
        temporary_manifest.write_text(json.dumps(record, indent=1, sort_keys=True))
        temporary_manifest.replace(self.manifest)

    def drop(self) -> None:
        self.manifest.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)


@contextlib.contextmanager
def cache_lock(name: str = "compose-test") -> Iterator[None]:
    """One compose test per machine at a time (they share the cache and fixed ports)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with (CACHE_DIR / f"{name}.lock").open("w") as handle:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"another compose test held {handle.name} too long"
                    ) from None
                time.sleep(2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
