"""How the compose test trusts its cache (cache.py): stale and broken files are never used.

Quick and without Docker: these run with the rest of the suite.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.compose.cache import MAX_AGE, CachedFile

KEY = {"suite": "bookworm", "mirror": "http://deb.debian.org/debian"}


def stored(tmp_path: Path, content: bytes = b"rootfs" * 1000) -> CachedFile:
    cached = CachedFile(tmp_path / "base.tar", dict(KEY))
    new = cached.temporary()
    new.write_bytes(content)
    cached.store(new)
    return cached


def test_a_stored_file_is_used(tmp_path: Path) -> None:
    cached = stored(tmp_path)
    assert cached.problem() is None
    assert [path.name for path in sorted(tmp_path.iterdir())] == ["base.tar", "base.tar.json"]


def test_nothing_cached_yet(tmp_path: Path) -> None:
    assert CachedFile(tmp_path / "base.tar", KEY).problem() == "not cached yet"


def test_a_file_made_from_other_inputs_is_stale(tmp_path: Path) -> None:
    stored(tmp_path)
    other = CachedFile(tmp_path / "base.tar", {**KEY, "mirror": "http://mirror.example/debian"})
    assert (other.problem() or "").startswith("stale: made from")


def test_an_old_file_is_stale(tmp_path: Path) -> None:
    cached = stored(tmp_path)
    manifest = json.loads(cached.manifest.read_text())
    manifest["created"] = time.time() - MAX_AGE - 60
    cached.manifest.write_text(json.dumps(manifest))
    assert "days old" in (cached.problem() or "")


def test_a_truncated_file_is_broken(tmp_path: Path) -> None:
    cached = stored(tmp_path)
    cached.path.write_bytes(cached.path.read_bytes()[:100])
    assert (cached.problem() or "").startswith("broken: 100 bytes")


def test_a_changed_byte_is_broken(tmp_path: Path) -> None:
    cached = stored(tmp_path)
    data = bytearray(cached.path.read_bytes())
    data[10] ^= 0xFF
    cached.path.write_bytes(bytes(data))
    assert cached.problem() == "broken: SHA-256 differs from the manifest"


def test_a_file_without_its_manifest_is_not_trusted(tmp_path: Path) -> None:
    # A run killed after writing the file but before its manifest leaves exactly this.
    cached = stored(tmp_path)
    cached.manifest.unlink()
    assert cached.problem() == "not cached yet"


def test_an_unreadable_manifest_is_not_trusted(tmp_path: Path) -> None:
    cached = stored(tmp_path)
    cached.manifest.write_text("{ half a manifest")
    assert (cached.problem() or "").startswith("unreadable manifest")


def test_store_replaces_and_drop_removes(tmp_path: Path) -> None:
    cached = stored(tmp_path, b"old")
    new = cached.temporary()
    new.write_bytes(b"new contents")
    cached.store(new)
    assert cached.problem() is None
    assert cached.path.read_bytes() == b"new contents"
    cached.drop()
    assert list(tmp_path.iterdir()) == []
