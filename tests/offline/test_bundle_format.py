"""The bundle format (shared/offline/bundle.py) on its own: what a writer writes, a reader
reads back, and every damage a reader must refuse (docs/offline.md)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from tests.offline.support import Members, read_members, remanifest, sha3, write_members
from tests.support.offline import (
    BundleError,
    BundleWriter,
    MemorySink,
    ReadBundle,
    Sink,
    blob_path,
    read_bundle,
    snap_path,
)

BLOB = bytes(range(256)) * 64


class Recorded(MemorySink):
    aborted = False

    def abort(self) -> None:
        self.aborted = True


def written(tmp_path: Path, name: str = "bundle.tar") -> Path:
    writer = BundleWriter()
    blob = tmp_path / "blob"
    blob.write_bytes(BLOB)
    writer.add_file(blob_path(sha3(BLOB)), blob, sha3(BLOB), len(BLOB))
    writer.add_bytes(snap_path("hello"), b'{"name": "hello"}')
    target = tmp_path / name
    writer.write(target, ["hello"])
    return target


def read(path: Path) -> tuple[ReadBundle, dict[str, Recorded]]:
    sinks: dict[str, Recorded] = {}

    def sink(sha3_384: str) -> Sink:
        sinks[sha3_384] = Recorded()
        return sinks[sha3_384]

    return read_bundle(path, sink), sinks


@pytest.mark.parametrize("name", ["bundle.tar", "bundle.tar.gz"])
def test_what_is_written_reads_back(tmp_path: Path, name: str) -> None:
    path = written(tmp_path, name)
    bundle, sinks = read(path)
    assert bundle.manifest.snaps == ("hello",)
    assert {e.path: (e.sha3_384, e.size) for e in bundle.manifest.files} == {
        blob_path(sha3(BLOB)): (sha3(BLOB), len(BLOB)),
        snap_path("hello"): (sha3(b'{"name": "hello"}'), 17),
    }
    assert bytes(sinks[sha3(BLOB)].buffer) == BLOB
    assert bundle.json(snap_path("hello")) == {"name": "hello"}
    with tarfile.open(path) as archive:  # the manifest and its checksum come first
        assert archive.getnames()[:2] == ["manifest.json", "manifest.json.sha3-384"]
    assert not path.with_name(name + ".partial").exists()


def refused(tmp_path: Path, members: Members) -> tuple[str, dict[str, Recorded]]:
    bad = tmp_path / "bad.tar"
    write_members(bad, members)
    sinks: dict[str, Recorded] = {}

    def sink(sha3_384: str) -> Sink:
        sinks[sha3_384] = Recorded()
        return sinks[sha3_384]

    with pytest.raises(BundleError) as caught:
        read_bundle(bad, sink)
    return str(caught.value), sinks


def test_another_version_is_refused_with_what_to_do(tmp_path: Path) -> None:
    members = read_members(written(tmp_path))
    manifest = json.loads(members["manifest.json"])
    manifest["version"] = 2
    members["manifest.json"] = json.dumps(manifest).encode()
    members["manifest.json.sha3-384"] = sha3(members["manifest.json"]).encode()
    message, sinks = refused(tmp_path, members)
    assert "version 2" in message and "reads version 1" in message
    assert all(sink.aborted for sink in sinks.values())


def test_a_damaged_blob_is_refused_and_its_partial_aborted(tmp_path: Path) -> None:
    members = read_members(written(tmp_path))
    name = blob_path(sha3(BLOB))
    members[name] = members[name][:-1] + b"\x00"
    message, sinks = refused(tmp_path, members)
    assert message == f"{name}: SHA3-384 differs from the manifest's"
    assert sinks[sha3(BLOB)].aborted


def test_a_blob_not_named_by_its_digest_is_refused(tmp_path: Path) -> None:
    members = read_members(written(tmp_path))
    other = blob_path("0" * 96)
    members[other] = members.pop(blob_path(sha3(BLOB)))
    manifest = json.loads(members["manifest.json"])
    for entry in manifest["files"]:
        if entry["path"].startswith("blobs/"):
            entry["path"] = other
    members["manifest.json"] = json.dumps(manifest).encode()
    remanifest(members, other)
    message, _ = refused(tmp_path, members)
    assert "its name is not its SHA3-384" in message


@pytest.mark.parametrize("missing", ["manifest.json", "manifest.json.sha3-384"])
def test_a_bundle_without_its_manifest_is_refused(tmp_path: Path, missing: str) -> None:
    members = read_members(written(tmp_path))
    del members[missing]
    message, _ = refused(tmp_path, members)
    assert f"no {missing}" in message


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    members = read_members(written(tmp_path))
    del members[snap_path("hello")]
    message, _ = refused(tmp_path, members)
    assert "incomplete" in message and snap_path("hello") in message


def test_a_path_outside_the_layout_is_refused(tmp_path: Path) -> None:
    members = read_members(written(tmp_path))
    members["../escape"] = b"x"
    message, _ = refused(tmp_path, members)
    assert "unexpected member" in message


def test_not_a_tar_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.tar"
    path.write_bytes(b"this is not a tar archive" * 100)
    with pytest.raises(BundleError, match="not a readable tar archive"):
        read_bundle(path, lambda _sha3: MemorySink())
