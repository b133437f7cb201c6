"""Helpers of the offline-mode tests: bundles taken apart and put back together, and an
upstream that accepts connections and never answers (any contact would hang)."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path

Members = dict[str, bytes]


def read_members(path: Path) -> Members:
    with tarfile.open(path) as archive:
        members = {}
        for member in archive.getmembers():
            source = archive.extractfile(member)
            assert source is not None
            members[member.name] = source.read()
    return members


def write_members(path: Path, members: Members) -> None:
    with tarfile.open(path, "w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def sha3(data: bytes) -> str:
    return hashlib.sha3_384(data).hexdigest()


def remanifest(members: Members, changed: str) -> None:
    """Make the manifest (and its checksum) agree with the new bytes of ``changed``: only
    a deeper check can then find what is wrong."""
    manifest = json.loads(members["manifest.json"])
    for entry in manifest["files"]:
        if entry["path"] == changed:
            entry["sha3-384"] = sha3(members[changed])
            entry["size"] = len(members[changed])
    members["manifest.json"] = json.dumps(manifest).encode()
    members["manifest.json.sha3-384"] = sha3(members["manifest.json"]).encode()


def corrupted(source: Path, target: Path, change: Callable[[Members], None]) -> Path:
    members = read_members(source)
    change(members)
    write_members(target, members)
    return target


class SilentUpstream:
    """A TCP server that accepts connections, counts them, and never sends a byte."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.requests: list[str] = []  # the first line of each request it was sent
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            self.held.append(connection)
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        try:
            head = connection.recv(4096)
        except OSError:
            return
        self.requests.append(head.split(b"\r\n", 1)[0].decode(errors="replace"))

    def close(self) -> None:
        self.server.close()
        for connection in self.held:
            connection.close()


# ---- corruptions -------------------------------------------------------------------------


def _first(members: Members, prefix: str, contains: bytes = b"") -> str:
    return next(name for name in members if name.startswith(prefix) and contains in members[name])


def flip_a_blob_byte(members: Members) -> None:
    name = _first(members, "blobs/")
    blob = bytearray(members[name])
    blob[len(blob) // 2] ^= 0x01
    members[name] = bytes(blob)


def forge_an_assertion(members: Members) -> None:
    """A snap-revision saying another size, its digests in the manifest made to agree."""
    name = _first(members, "assertions/", b"type: snap-revision")
    text = members[name].decode()
    size = text.split("snap-size: ", 1)[1].split("\n", 1)[0]
    members[name] = text.replace(f"snap-size: {size}\n", f"snap-size: {int(size) + 1}\n").encode()
    remanifest(members, name)


def manifest_without_its_checksum(members: Members) -> None:
    manifest = json.loads(members["manifest.json"])
    manifest["files"][0]["size"] += 1
    members["manifest.json"] = json.dumps(manifest).encode()


def manifest_naming_other_bytes(members: Members) -> None:
    """The manifest and its checksum agree, but a file is not what the manifest says."""
    manifest = json.loads(members["manifest.json"])
    entry = next(e for e in manifest["files"] if e["path"].startswith("snaps/"))
    entry["sha3-384"] = sha3(b"something else")
    members["manifest.json"] = json.dumps(manifest).encode()
    members["manifest.json.sha3-384"] = sha3(members["manifest.json"]).encode()


def an_unlisted_member(members: Members) -> None:
    members["snaps/extra.json"] = b"{}"
