"""The offline-mode code the tests use (tests import shared code from tests/support only),
and a bundle made up on the spot (a snap of random bytes with a signed assertion chain)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from shared.assertions import sha3_384_hex_to_b64
from shared.offline.bundle import (
    BundleError,
    BundleWriter,
    MemorySink,
    ReadBundle,
    Sink,
    assertion_path,
    blob_path,
    read_bundle,
    snap_path,
)
from tools.snap_store_sim.layout import DataDir
from tools.snap_store_sim.signing import Authority

NAME, SNAP_ID, PUBLISHER = "bench-offline", "B" * 32, "benchpub"
MIB = 1024 * 1024


def random_blob(path: Path, size: int) -> str:
    hasher = hashlib.sha3_384()
    with path.open("wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(left, 8 * MIB))
            hasher.update(chunk)
            out.write(chunk)
            left -= len(chunk)
    return hasher.hexdigest()


def build_bundle(work: Path, size: int) -> tuple[Path, Path, str]:
    """A bundle of one made-up snap (``NAME``) of ``size`` random bytes, signed by the
    simulator's authority; the root account-key file to trust; the blob's SHA3-384."""
    data = DataDir(work / "authority")
    authority = Authority.ensure(data, bits=2048)
    blob = work / "blob.snap"
    sha3 = random_blob(blob, size)
    writer = BundleWriter()
    writer.add_file(blob_path(sha3), blob, sha3, size)
    signed = [
        authority.account(PUBLISHER, PUBLISHER, "Bench Publisher"),
        authority.snap_declaration(SNAP_ID, NAME, PUBLISHER),
        authority.snap_revision(sha3_384_hex_to_b64(sha3), SNAP_ID, size, 1, PUBLISHER),
    ]
    encoded = [item.raw for item in signed]
    encoded += [path.read_bytes() for path in sorted(data.asserts.rglob("*.assert"))]
    for item in encoded:
        writer.add_bytes(assertion_path(item), item)
    download = {"url": "http://unused/", "sha3-384": sha3, "size": size}
    snap = {"name": NAME, "snap-id": SNAP_ID, "revision": 1, "type": "app", "base": "core22"}
    channel = {"architecture": "amd64", "track": "latest", "risk": "stable", "name": "stable"}
    find = {
        "name": NAME,
        "snap-id": SNAP_ID,
        "snap": {
            "name": NAME,
            "snap-id": SNAP_ID,
            "title": "Offline bench",
            "summary": "A snap made up for offline tests",
            "categories": [{"name": "development", "featured": False}],
        },
        "revision": {"revision": 1, "version": "1.0", "type": "app", "channel": "stable"},
    }
    record = {
        "name": NAME,
        "snap-id": SNAP_ID,
        "info": {
            "name": NAME,
            "snap-id": SNAP_ID,
            "snap": {},
            "channel-map": [{**snap, "download": download, "channel": channel}],
        },
        "find": find,
        "revisions": [
            {
                "revision": 1,
                "architectures": ["amd64"],
                "sha3-384": sha3,
                "size": size,
                "snap": {**snap, "download": download},
                "blob": blob_path(sha3),
                "assertions": [],
            }
        ],
        "channels": [{"channel": "latest/stable", "architecture": "amd64", "revision": 1}],
        "assertions": [],
    }
    writer.add_bytes(snap_path(NAME), json.dumps(record).encode())
    bundle = work / "bundle.tar"
    writer.write(bundle, [NAME])
    authority_json = json.loads((data.keys / "authority.json").read_text())
    root_key = data.asserts / "account-key" / f"{authority_json['root-key']}.assert"
    return bundle, root_key, sha3


__all__ = [
    "BundleError",
    "BundleWriter",
    "MemorySink",
    "ReadBundle",
    "Sink",
    "blob_path",
    "build_bundle",
    "read_bundle",
    "snap_path",
]
