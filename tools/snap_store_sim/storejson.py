"""The ``storeSnap`` JSON objects of refresh, info and find."""

from __future__ import annotations

from typing import Any

from .catalogue import Revision, Snap
from .channels import Channel

EPOCH_ZERO = {"read": [0], "write": [0]}
# Fields of the snap itself (not of one revision).
SNAP_FIELDS = (
    "snap-id", "name", "title", "summary", "description", "publisher", "license",
    "media", "prices", "private", "contact", "website", "store-url", "common-ids",
    "categories",
)  # fmt: skip


def download_path(snap: Snap, rev: Revision) -> str:
    return f"/api/v1/snaps/download/{snap.snap_id}_{rev.revision}.snap"


def snap_level(snap: Snap, base_url: str) -> dict[str, Any]:
    return {
        "snap-id": snap.snap_id,
        "name": snap.name,
        "title": snap.title or snap.name,
        "summary": snap.summary,
        "description": snap.description,
        "publisher": dict(snap.publisher),
        "license": snap.license,
        "media": [],
        "prices": {},
        "private": snap.private,
        "contact": "",
        "website": "",
        "store-url": f"{base_url}/snaps/{snap.name}",
        "common-ids": [],
        "categories": [{"name": name, "featured": name == "featured"} for name in snap.categories],
    }


def revision_level(snap: Snap, rev: Revision, base_url: str) -> dict[str, Any]:
    return {
        "architectures": rev.architectures,
        "base": rev.base,
        "confinement": rev.confinement,
        "created-at": rev.created_at,
        "download": {
            "url": base_url + download_path(snap, rev),
            "size": rev.size,
            "sha3-384": rev.sha3_384,
            "deltas": [],
        },
        "epoch": dict(EPOCH_ZERO),
        "revision": rev.revision,
        "type": rev.type,
        "version": rev.version,
        "snap-yaml": rev.snap_yaml,
        "grade": "stable",
    }


def select_fields(value: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    if fields is None:
        return value
    return {key: item for key, item in value.items() if key in fields}


def store_snap(
    snap: Snap, rev: Revision, base_url: str, fields: list[str] | None = None
) -> dict[str, Any]:
    full = {**snap_level(snap, base_url), **revision_level(snap, rev, base_url)}
    chosen = select_fields(full, fields)
    chosen.update({"name": snap.name, "snap-id": snap.snap_id, "revision": rev.revision})
    return chosen


def channel_json(channel: Channel, arch: str, released_at: str) -> dict[str, str]:
    return {
        "architecture": arch,
        "name": channel.short,
        "track": channel.track,
        "risk": channel.risk,
        "released-at": released_at,
    }


def releases_json(snap: Snap) -> list[dict[str, str]]:
    """``extra.releases`` of revision-not-found errors."""
    return [
        {"architecture": arch, "channel": channel.full} for arch, channel, _rev in snap.releases()
    ]
