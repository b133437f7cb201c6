"""``snap-proxy export``: gather snaps from a running online proxy into a bundle.

Everything is asked of the proxy's device API, exactly as a device asks (no admin token:
device requests may be relayed upstream): info and find for the metadata, refresh for each
revision's store answer, the download URL for its blob (so the proxy caches it too), and
the assertions endpoints for the snap-revision, snap-declaration, publisher account and the
account-key chain, kept byte-exact as the proxy relayed them.
"""

from __future__ import annotations

import hashlib
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from shared.assertions import AssertionFormatError, parse_assertion, sha3_384_hex_to_b64
from shared.channels import normalize_channel
from shared.offline.bundle import (
    MANIFEST,
    BundleWriter,
    Manifest,
    assertion_path,
    blob_path,
    snap_path,
)

ASSERTION_TYPE = "application/x.ubuntu.assertion"
# storeSnap's fields (snapd-store-api.md 3.11), and the catalogue's: what info, find and
# refresh can be asked for. Answers offline are narrowed to what each request asks.
SNAP_FIELDS = (
    "architectures,base,confinement,contact,created-at,description,download,epoch,license,"
    "name,prices,private,publisher,revision,snap-id,snap-yaml,summary,title,type,version,"
    "website,store-url,media,common-ids,categories"
)
FIND_FIELDS = SNAP_FIELDS + ",channel"
MAX_CHAIN = 8


class ExportError(RuntimeError):
    """Something the proxy answered (or did not) stops the export; the message says what."""


@dataclass
class Selection:
    channels: tuple[str, ...]  # normalised; empty: every channel of the channel map
    architectures: tuple[str, ...]


@dataclass
class SnapExport:
    name: str
    snap_id: str
    record: dict[str, Any]
    bases: set[str] = field(default_factory=set)


Progress = Callable[[str, int, int], None]  # (label, bytes done so far, total)


@dataclass(frozen=True)
class Since:
    """What an incremental bundle (``--since``) leaves out: the blobs of an earlier bundle,
    or of revisions created before a date. Their records, channels and assertions are kept;
    the importing proxy must have the blobs already."""

    blobs: frozenset[str] = frozenset()
    created_before: datetime | None = None

    def has(self, sha3_384: str, snap: dict[str, Any]) -> bool:
        if sha3_384 in self.blobs:
            return True
        created = snap.get("created-at")
        if self.created_before is None or not isinstance(created, str):
            return False
        try:
            when = datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when < self.created_before


def since_of(text: str) -> Since:
    """``--since``: an earlier bundle's path, or an ISO date or time (UTC unless given)."""
    path = Path(text)
    if path.is_file():
        with tarfile.open(path, "r|*") as archive:
            for member in archive:
                if member.name == MANIFEST:
                    source = archive.extractfile(member)
                    assert source is not None
                    manifest = Manifest.decode(source.read())
                    blobs = {e.sha3_384 for e in manifest.files if e.path.startswith("blobs/")}
                    return Since(blobs=frozenset(blobs))
        raise ExportError(f"{text}: no manifest.json (not a bundle)")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ExportError(f"--since {text!r}: neither a bundle file nor an ISO date") from None
    return Since(created_before=when if when.tzinfo else when.replace(tzinfo=UTC))


class Exporter:
    def __init__(
        self,
        client: httpx.Client,
        workdir: Path,
        progress: Progress | None,
        since: Since | None = None,
    ) -> None:
        self.since = since or Since()
        self.client = client
        self.workdir = workdir
        self.progress = progress
        self.writer = BundleWriter()
        self.assertions: dict[str, bytes] = {}  # path -> bytes (shared accounts and keys)
        self.fetched: dict[tuple[str, str], str] = {}  # (type, key) -> path

    # -- the proxy ---------------------------------------------------------------------

    def _get(self, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.get(path, **kwargs)
        except httpx.HTTPError as exc:
            raise ExportError(
                f"cannot reach the proxy at {self.client.base_url}: {type(exc).__name__}"
            ) from None

    @staticmethod
    def _message(response: httpx.Response) -> str:
        try:
            return str(response.json()["error-list"][0]["message"])
        except (ValueError, KeyError, IndexError, TypeError):
            return f"HTTP {response.status_code}"

    def _headers(self, arch: str) -> dict[str, str]:
        return {"Snap-Device-Architecture": arch, "Snap-Device-Series": "16"}

    def info(self, name: str, arch: str) -> dict[str, Any] | None:
        response = self._get(
            f"/v2/snaps/info/{name}",
            params={"fields": SNAP_FIELDS, "architecture": arch},
            headers=self._headers(arch),
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ExportError(f"info {name}: {self._message(response)}")
        return dict(response.json())

    def find(self, name: str, arch: str) -> dict[str, Any] | None:
        for channel in ("stable", None):
            params = {"name": name, "fields": FIND_FIELDS, "architecture": arch}
            if channel:
                params["channel"] = channel
            response = self._get("/v2/snaps/find", params=params, headers=self._headers(arch))
            if response.status_code != 200:
                continue
            for result in response.json().get("results") or []:
                if result.get("name") == name:
                    return dict(result)
        return None

    def refresh_snap(self, name: str, revision: int, arch: str) -> dict[str, Any]:
        action = {
            "action": "download",
            "instance-key": "export-1",
            "name": name,
            "revision": revision,
        }
        body = {"context": [], "actions": [action], "fields": SNAP_FIELDS.split(",")}
        try:
            response = self.client.post("/v2/snaps/refresh", json=body, headers=self._headers(arch))
        except httpx.HTTPError as exc:
            raise ExportError(f"cannot reach the proxy: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise ExportError(f"refresh {name} r{revision}: {self._message(response)}")
        for result in response.json().get("results") or []:
            snap = result.get("snap")
            if result.get("result") != "error" and isinstance(snap, dict):
                return snap
            if result.get("result") == "error":
                message = (result.get("error") or {}).get("message", "not available")
                raise ExportError(f"{name} r{revision}: {message}")
        raise ExportError(f"{name} r{revision}: the proxy gave no revision")

    def blob(self, label: str, url: str, sha3_384: str, size: int, arch: str) -> None:
        path = blob_path(sha3_384)
        if path in self.writer.entries:
            return
        target = self.workdir / f"{sha3_384}.snap"
        hasher = hashlib.sha3_384()
        done = 0
        try:
            with (
                self.client.stream("GET", url, headers=self._headers(arch)) as response,
                target.open("wb") as out,
            ):
                if response.status_code != 200:
                    raise ExportError(f"download {label}: HTTP {response.status_code}")
                for chunk in response.iter_bytes(1024 * 1024):
                    hasher.update(chunk)
                    out.write(chunk)
                    done += len(chunk)
                    if self.progress:
                        self.progress(label, done, size)
        except httpx.HTTPError as exc:
            raise ExportError(f"download {label}: {type(exc).__name__}") from None
        if hasher.hexdigest() != sha3_384 or done != size:
            raise ExportError(f"download {label}: the bytes do not match the store's SHA3-384")
        self.writer.add_file(path, target, sha3_384, size)

    def assertion(self, type_name: str, key: str) -> str | None:
        """Fetch one assertion and its chain; the bundle path of the first, None on 404."""
        if (type_name, key) in self.fetched:
            return self.fetched[(type_name, key)]
        response = self._get(
            f"/v2/assertions/{type_name}/{key}", headers={"Accept": ASSERTION_TYPE}
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ExportError(f"assertion {type_name} {key}: {self._message(response)}")
        encoded = response.content  # byte-exact, as the proxy relayed it
        try:
            decoded = parse_assertion(encoded)
        except AssertionFormatError as exc:
            raise ExportError(f"assertion {type_name} {key}: {exc}") from None
        path = assertion_path(encoded)
        self.fetched[(type_name, key)] = path
        self.writer.add_bytes(path, encoded)
        self._chain(decoded)
        return path

    def _chain(self, decoded: Any, depth: int = 0) -> None:
        """The signing account-key and its account, up to a self-signed root."""
        if depth > MAX_CHAIN:
            return
        key_id = decoded.sign_key_sha3_384
        self_signed = decoded.type == "account-key" and (
            decoded.header("public-key-sha3-384") == key_id
        )
        if decoded.type == "account-key" and decoded.header("account-id"):
            self.assertion("account", str(decoded.header("account-id")))
        if key_id and not self_signed:
            self.assertion("account-key", key_id)

    # -- one snap ----------------------------------------------------------------------

    def export_snap(self, name: str, selection: Selection) -> SnapExport:
        merged: dict[str, Any] | None = None
        channel_map: list[dict[str, Any]] = []
        for arch in selection.architectures:
            info = self.info(name, arch)
            if info is None:
                continue
            merged = merged or info
            for entry in info.get("channel-map") or []:
                channel = entry.get("channel") or {}
                full = normalize_channel(f"{channel.get('track')}/{channel.get('risk')}")
                if channel.get("architecture") != arch or channel.get("branch"):
                    continue  # branches are not exported (docs/offline.md, limits)
                if selection.channels and full not in selection.channels:
                    continue
                channel_map.append(entry)
        if merged is None:
            raise ExportError(f"snap {name!r} not found (check the name and --arch)")
        if not channel_map:
            raise ExportError(f"{name}: no revision in the chosen channels and architectures")
        snap_id = str(merged["snap-id"])
        revisions: dict[int, dict[str, Any]] = {}
        channels = []
        bases: set[str] = set()
        for entry in channel_map:
            channel = entry["channel"]
            arch, number = channel["architecture"], int(entry["revision"])
            channels.append(
                {
                    "channel": f"{channel['track']}/{channel['risk']}",
                    "architecture": arch,
                    "revision": number,
                }
            )
            if number in revisions:
                continue
            snap = self.refresh_snap(name, number, arch)
            download = snap["download"]
            sha3, size = str(download["sha3-384"]), int(download["size"])
            if not self.since.has(sha3, snap):
                self.blob(f"{name} r{number}", str(download["url"]), sha3, size, arch)
            paths = [self.assertion("snap-revision", sha3_384_hex_to_b64(sha3))]
            if paths[0] is None:
                raise ExportError(f"{name} r{number}: no snap-revision assertion")
            revisions[number] = {
                "revision": number,
                "architectures": list(snap.get("architectures") or [arch]),
                "sha3-384": sha3,
                "size": size,
                "snap": snap,
                "blob": blob_path(sha3),
                "assertions": paths,
            }
            kind = snap.get("type") or "app"
            if kind == "app":
                bases.add(str(snap.get("base") or "core"))
        declaration = self.assertion("snap-declaration", f"16/{snap_id}")
        if declaration is None:
            raise ExportError(f"{name}: no snap-declaration assertion")
        publisher = (merged.get("snap") or {}).get("publisher") or {}
        account = self.assertion("account", str(publisher["id"])) if publisher.get("id") else None
        find = self.find(name, selection.architectures[0])
        record = {
            "name": name,
            "snap-id": snap_id,
            "info": {**merged, "channel-map": channel_map},
            "find": find,
            "revisions": list(revisions.values()),
            "channels": channels,
            "assertions": [p for p in (declaration, account) if p],
        }
        return SnapExport(name, snap_id, record, bases)


def export_bundle(
    client: httpx.Client,
    names: Iterable[str],
    selection: Selection,
    with_bases: bool,
    output: Path,
    progress: Progress | None = None,
    announce: Callable[[str], None] = lambda _: None,
    since: Since | None = None,
) -> list[str]:
    """Write the bundle; the names of the snaps in it."""
    with tempfile.TemporaryDirectory(prefix=".export-", dir=output.parent) as workdir:
        exporter = Exporter(client, Path(workdir), progress, since)
        done: dict[str, SnapExport] = {}
        wanted = list(dict.fromkeys(names))
        for name in wanted:
            announce(f"exporting {name}")
            done[name] = exporter.export_snap(name, selection)
        if with_bases:
            extra = sorted({base for item in done.values() for base in item.bases} | {"snapd"})
            essentials = Selection(("latest/stable",), selection.architectures)
            for name in extra:
                if name not in done:
                    announce(f"exporting {name} (a prerequisite)")
                    done[name] = exporter.export_snap(name, essentials)
        for name, item in done.items():
            exporter.writer.add_bytes(snap_path(name), _encode(item.record))
        total = sum(entry.size for entry in exporter.writer.entries.values())
        written = 0

        def wrote(size: int) -> None:
            nonlocal written
            written += size
            if progress:
                progress("writing the bundle", written, total)

        exporter.writer.write(output, done, wrote)
    return list(done)


def _encode(record: dict[str, Any]) -> bytes:
    import json

    return json.dumps(record, indent=1, sort_keys=True).encode() + b"\n"
