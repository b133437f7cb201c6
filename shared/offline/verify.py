"""Checking a bundle's contents before anything is imported: every snap record, and every
assertion's signature up to a trusted root (``assertions.trusted-root-keys``), and that the
assertions vouch for exactly the blobs, sizes, snap ids and names the records claim."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.assertions import (
    Assertion,
    AssertionFormatError,
    TrustChain,
    UntrustedAssertion,
    parse_assertion,
    sha3_384_hex_to_b64,
)
from shared.channels import normalize_channel
from shared.names import MAX_REVISION, is_snap_name
from shared.offline.bundle import BundleError, ReadBundle, blob_path, snap_path

Present = Callable[[str], bool]
_SNAP_ID = re.compile(r"[A-Za-z0-9]{1,64}")
_SHA3 = re.compile(r"[0-9a-f]{96}")


@dataclass(frozen=True)
class RevisionRecord:
    revision: int
    architectures: list[str]
    sha3_384: str
    size: int
    snap: dict[str, Any]


@dataclass(frozen=True)
class SnapRecord:
    name: str
    snap_id: str
    info: dict[str, Any]
    find: dict[str, Any] | None
    revisions: list[RevisionRecord]
    channels: list[tuple[str, str, int]]  # (architecture, channel, revision)


@dataclass(frozen=True)
class VerifiedAssertion:
    assertion: Assertion
    encoded: bytes


@dataclass(frozen=True)
class Verified:
    snaps: list[SnapRecord]
    assertions: list[VerifiedAssertion]


def _need(condition: bool, where: str, what: str) -> None:
    if not condition:
        raise BundleError(f"{where}: {what}")


def _revision(where: str, item: Any, bundle: ReadBundle, present: Present) -> RevisionRecord:
    _need(isinstance(item, dict), where, "a revision is not an object")
    number, sha3, size = item.get("revision"), item.get("sha3-384"), item.get("size")
    _need(isinstance(number, int) and 0 < number <= MAX_REVISION, where, "bad revision number")
    _need(isinstance(sha3, str) and bool(_SHA3.fullmatch(sha3)), where, "bad sha3-384")
    _need(isinstance(size, int) and size >= 0, where, "bad size")
    _need(
        sha3 in bundle.blobs or present(sha3),
        where,
        f"revision {number}: its blob is neither in the bundle nor already here (an "
        "incremental bundle: import the bundle it was made --since first)",
    )
    _need(item.get("blob") == blob_path(sha3), where, f"revision {number}: wrong blob path")
    architectures = item.get("architectures")
    _need(
        isinstance(architectures, list) and all(isinstance(a, str) for a in architectures),
        where,
        "bad architectures",
    )
    snap = item.get("snap")
    _need(isinstance(snap, dict), where, f"revision {number}: no store answer")
    assert isinstance(snap, dict)
    download = snap.get("download") or {}
    _need(
        download.get("sha3-384") == sha3 and download.get("size") == size,
        where,
        f"revision {number}: its store answer names another blob",
    )
    return RevisionRecord(number, list(architectures), sha3, size, snap)


def snap_record(bundle: ReadBundle, name: str, present: Present) -> SnapRecord:
    where = snap_path(name)
    _need(is_snap_name(name), "manifest.json", f"{name[:60]!r} is not a snap name")
    record = bundle.json(where)
    _need(isinstance(record, dict), where, "not an object")
    _need(record.get("name") == name, where, "names another snap")
    snap_id = record.get("snap-id")
    _need(isinstance(snap_id, str) and bool(_SNAP_ID.fullmatch(snap_id)), where, "bad snap-id")
    info, find = record.get("info"), record.get("find")
    _need(isinstance(info, dict), where, "no info answer")
    _need(find is None or isinstance(find, dict), where, "bad find result")
    revisions = [_revision(where, item, bundle, present) for item in record.get("revisions") or []]
    _need(bool(revisions), where, "no revision")
    numbers = {r.revision for r in revisions}
    channels = []
    for item in record.get("channels") or []:
        _need(isinstance(item, dict), where, "a channel is not an object")
        arch, channel, number = item.get("architecture"), item.get("channel"), item.get("revision")
        _need(isinstance(arch, str) and 0 < len(arch) <= 32, where, "bad channel architecture")
        _need(isinstance(channel, str) and 0 < len(channel) <= 128, where, "bad channel name")
        _need(number in numbers, where, f"channel {channel} holds a revision not in the bundle")
        channels.append((str(arch), normalize_channel(str(channel)), int(number)))
    assert isinstance(snap_id, str) and isinstance(info, dict)
    return SnapRecord(name, snap_id, info, find, revisions, channels)


def verify_assertions(bundle: ReadBundle, roots: Sequence[Assertion]) -> list[VerifiedAssertion]:
    """Every assertion of the bundle, each verified up to a trusted root."""
    parsed: list[tuple[str, VerifiedAssertion]] = []
    for path, encoded in bundle.small.items():
        if not path.startswith("assertions/"):
            continue
        try:
            parsed.append((path, VerifiedAssertion(parse_assertion(encoded), encoded)))
        except AssertionFormatError as exc:
            raise BundleError(f"{path}: not an assertion: {exc}") from None
    keys = [item.assertion for _, item in parsed if item.assertion.type == "account-key"]
    chain = TrustChain(roots, candidates=keys)
    for path, item in parsed:
        try:
            chain.verify(item.assertion)
        except UntrustedAssertion as exc:
            raise BundleError(
                f"{path}: the {item.assertion.type} assertion does not verify up to a trusted "
                f"root key ({exc}); check assertions.trusted-root-keys"
            ) from None
    return [item for _, item in parsed]


def check_vouched(snaps: list[SnapRecord], assertions: list[VerifiedAssertion]) -> None:
    """Each revision has its snap-revision assertion and each snap its snap-declaration,
    saying what the records say."""
    revisions = {
        a.assertion.header("snap-sha3-384"): a.assertion
        for a in assertions
        if a.assertion.type == "snap-revision"
    }
    declarations = {
        a.assertion.header("snap-id"): a.assertion
        for a in assertions
        if a.assertion.type == "snap-declaration"
    }
    for snap in snaps:
        where = snap_path(snap.name)
        declaration = declarations.get(snap.snap_id)
        _need(declaration is not None, where, "no snap-declaration assertion in the bundle")
        assert declaration is not None
        _need(declaration.header("snap-name") == snap.name, where, "declared for another name")
        for revision in snap.revisions:
            found = revisions.get(sha3_384_hex_to_b64(revision.sha3_384))
            what = f"revision {revision.revision}"
            _need(found is not None, where, f"{what}: no snap-revision assertion in the bundle")
            assert found is not None
            _need(found.header("snap-id") == snap.snap_id, where, f"{what}: another snap's")
            _need(found.header("snap-size") == str(revision.size), where, f"{what}: size differs")
            _need(
                found.header("snap-revision") == str(revision.revision),
                where,
                f"{what}: the assertion is for another revision",
            )


def verify_contents(
    bundle: ReadBundle, roots: Sequence[Assertion], present: Present = lambda _: False
) -> Verified:
    """``present(sha3)``: a blob the blob store already holds (incremental bundles)."""
    listed = {entry.path for entry in bundle.manifest.files}
    snaps = []
    for name in bundle.manifest.snaps:
        _need(snap_path(name) in listed, "manifest.json", f"{name}: no {snap_path(name)}")
        snaps.append(snap_record(bundle, name, present))
    assertions = verify_assertions(bundle, roots)
    check_vouched(snaps, assertions)
    return Verified(snaps, assertions)
