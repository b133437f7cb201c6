"""The cache admin API (``/v1/cache/...``, admin token): stats, entries, eviction, pinning,
verification, moving the blobs to the other storage backend. Thin handlers over the cache
façade (``BlobCache``), as the CLI sees it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, field_validator

from services.downloads.deps import CacheDep, PartsDep
from services.downloads.ledger import Entry
from shared.deps import SettingsDep, require_admin
from shared.errors import BadRequest
from shared.names import is_snap_name

router = APIRouter(prefix="/v1/cache", dependencies=[Depends(require_admin)])


def _snap_name(value: str | None) -> str | None:
    if value is not None and not is_snap_name(value):
        raise ValueError("not a snap name (lowercase letters, digits and hyphens)")
    return value


class EvictRequest(BaseModel):
    name: str | None = Field(default=None, max_length=40)
    all: bool = False

    _name = field_validator("name")(_snap_name)


class PinRequest(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    pinned: bool = True

    _name = field_validator("name")(_snap_name)


def entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "snap-id": entry.snap_id,
        "revision": entry.revision,
        "size": entry.size,
        "sha3-384": entry.sha3_384,
        "stored-at": entry.stored_at.isoformat(),
        "last-access": entry.last_access.isoformat(),
        "pinned": entry.pinned,
    }


@router.get("/stats", summary="Hits, misses and bytes, overall and per snap (admin)")
async def stats(cache: CacheDep) -> dict[str, Any]:
    found = await cache.stats()

    def dashed(counts: dict[str, Any]) -> dict[str, Any]:
        return {key.replace("_", "-"): value for key, value in counts.items()}

    return {
        "totals": dashed(found.totals),
        "snaps": {name: dashed(counts) for name, counts in found.per_snap.items()},
        "disk": found.disk,
    }


@router.get("/daily", summary="Hits, misses and bytes per UTC day, oldest first (admin)")
async def daily(cache: CacheDep, days: int = Query(30, ge=1, le=366)) -> dict[str, Any]:
    return {
        "days": [
            {"day": day.day.isoformat(), **{k.replace("_", "-"): v for k, v in day.counts.items()}}
            for day in await cache.daily(days)
        ]
    }


@router.get("/fills", summary="The fills in progress, with the bytes written so far (admin)")
async def fills(cache: CacheDep) -> dict[str, Any]:
    return {
        "fills": [
            {
                "name": fill.name,
                "revision": fill.revision,
                "sha3-384": fill.sha3_384,
                "size": fill.size,
                "written": fill.written,
                "followers": fill.followers,
                "started-at": fill.started_at.isoformat(),
                "heartbeat-at": fill.heartbeat_at.isoformat(),
            }
            for fill in await cache.fills_in_progress()
        ]
    }


class PrefetchRequest(BaseModel):
    filename: str = Field(max_length=100)  # <snap-id>_<revision>.snap, as a download URL ends
    architecture: str = Field(default="amd64", pattern=r"^[a-z0-9]{1,16}$")


@router.post("/prefetch", summary="Start filling one snap revision, no one waiting (admin)")
async def prefetch(request: PrefetchRequest, parts: PartsDep) -> dict[str, Any]:
    """The revision is looked up as a device of ``architecture`` (no store credentials);
    ``state``: cached, filling (already) or started. The fill shows in ``/v1/cache/fills``."""
    device = {
        "User-Agent": "snapproxy-prefetch",
        "Snap-Device-Architecture": request.architecture,
        "Snap-Device-Series": "16",
    }
    facts, state = await parts.downloads.prefetch(request.filename, device)
    return {"name": facts.name, "revision": facts.revision, "size": facts.size, "state": state}


@router.get("/entries", summary="What the cache holds (admin)")
async def entries(cache: CacheDep, name: str | None = None) -> dict[str, Any]:
    if name is not None and not is_snap_name(name):
        raise BadRequest("name: not a snap name (lowercase letters, digits and hyphens)")
    return {"entries": [entry_json(e) for e in await cache.entries(name)]}


@router.get("/pinned", summary="The snaps with pinned blobs, by name (admin)")
async def pinned(cache: CacheDep) -> dict[str, Any]:
    return {"names": await cache.pinned_names()}


@router.post("/evict", summary="Drop a snap's blobs, or everything (admin)")
async def evict(request: EvictRequest, cache: CacheDep) -> dict[str, Any]:
    if not request.all and not request.name:
        raise BadRequest("name a snap to evict, or set all to true")
    evicted = await cache.evict(None if request.all else request.name)
    return {"evicted": [entry_json(e) for e in evicted]}


@router.post("/pin", summary="Pin (or unpin) a snap's blobs so they are never evicted (admin)")
async def pin(request: PinRequest, cache: CacheDep) -> dict[str, Any]:
    changed = await cache.pin(request.name, request.pinned)
    return {"name": request.name, "pinned": request.pinned, "entries": changed}


@router.post("/verify", summary="Re-hash every stored blob and drop corrupt ones (admin)")
async def verify(cache: CacheDep) -> dict[str, Any]:
    verified, dropped = await cache.verify()
    return {
        "verified": verified,
        "dropped": [{**entry_json(d.entry), "reason": d.reason} for d in dropped],
    }


class MoveRequest(BaseModel):
    to: Literal["local", "s3"]


@router.post(
    "/move",
    summary="Copy every cached blob into the other storage backend (admin; NDJSON progress)",
)
async def move(request: MoveRequest, cache: CacheDep, settings: SettingsDep) -> StreamingResponse:
    """One JSON line per blob (``copied`` false: it was there already), then a summary line;
    a failure ends the stream with an ``error`` line (run it again: it resumes)."""
    destination = await cache.destination(request.to, settings)

    async def lines() -> AsyncIterator[bytes]:
        copied = present = moved_bytes = 0
        try:
            async for entry, was_copied in cache.move_to(destination):
                copied, present = copied + was_copied, present + (not was_copied)
                moved_bytes += entry.size if was_copied else 0
                yield _line({**entry_json(entry), "copied": was_copied})
        except Exception as exc:
            yield _line({"error": str(exc) or type(exc).__name__})
            return
        yield _line({"done": True, "copied": copied, "present": present, "bytes": moved_bytes})

    return StreamingResponse(lines(), media_type="application/x-ndjson")


def _line(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode() + b"\n"
