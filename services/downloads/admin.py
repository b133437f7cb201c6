"""The cache admin API (``/v1/cache/...``): stats, entries, eviction, pinning, verification."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.downloads import repository as repo
from services.downloads.blobcache import BlobCache
from shared.admin import require_admin
from shared.errors import BadRequest

router = APIRouter(prefix="/v1/cache", dependencies=[Depends(require_admin)])


def get_cache(request: Request) -> BlobCache:
    cache: BlobCache = request.app.state.blob_cache
    return cache


CacheDep = Annotated[BlobCache, Depends(get_cache)]


class EvictRequest(BaseModel):
    name: str | None = Field(default=None, max_length=64)
    all: bool = False


class PinRequest(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    pinned: bool = True


def _entry(entry: Any) -> dict[str, Any]:
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


@router.get("/stats", summary="Hits, misses and bytes, overall and per snap")
async def stats(cache: CacheDep) -> dict[str, Any]:
    async with cache.sessionmaker() as session, session.begin():
        counters = await repo.counters(session)
        entries = await repo.list_entries(session)
    fields = repo.COUNTER_FIELDS
    per_snap = {c.name: {f.replace("_", "-"): getattr(c, f) for f in fields} for c in counters}
    totals = {f.replace("_", "-"): sum(getattr(c, f) for c in counters) for f in fields}
    totals["entries"] = len(entries)
    totals["size"] = sum(e.size for e in entries)
    totals["max-size"] = cache.settings.cache_max_size_bytes
    return {"totals": totals, "snaps": per_snap}


@router.get("/entries", summary="What the cache holds")
async def entries(cache: CacheDep, name: str | None = None) -> dict[str, Any]:
    async with cache.sessionmaker() as session, session.begin():
        found = await repo.list_entries(session, name)
    return {"entries": [_entry(e) for e in found]}


@router.post("/evict", summary="Drop a snap's blobs, or everything")
async def evict(request: EvictRequest, cache: CacheDep) -> dict[str, Any]:
    if not request.all and not request.name:
        raise BadRequest("name a snap to evict, or set all to true")
    async with cache.sessionmaker() as session, session.begin():
        victims = await repo.list_entries(session, None if request.all else request.name)
        for victim in victims:
            await repo.delete_entry(session, victim.sha3_384)
            await repo.bump(session, victim.name, evictions=1)
    for victim in victims:
        await asyncio.to_thread(cache.store.delete, victim.sha3_384)
    return {"evicted": [_entry(v) for v in victims]}


@router.post("/pin", summary="Pin (or unpin) a snap's blobs so they are never evicted")
async def pin(request: PinRequest, cache: CacheDep) -> dict[str, Any]:
    async with cache.sessionmaker() as session, session.begin():
        changed = await repo.set_pinned(session, request.name, request.pinned)
    return {"name": request.name, "pinned": request.pinned, "entries": changed}


def _digest(path: Any) -> str | None:
    hasher = hashlib.sha3_384()
    try:
        with open(path, "rb") as blob:
            while chunk := blob.read(1024 * 1024):
                hasher.update(chunk)
    except FileNotFoundError:
        return None
    return hasher.hexdigest()


@router.post("/verify", summary="Re-hash every stored blob and drop corrupt ones")
async def verify(cache: CacheDep) -> dict[str, Any]:
    async with cache.sessionmaker() as session, session.begin():
        stored = await repo.list_entries(session)
    ok, dropped = [], []
    for entry in stored:
        digest = await asyncio.to_thread(_digest, cache.store.local_path(entry.sha3_384))
        if digest == entry.sha3_384:
            ok.append(entry.sha3_384)
            continue
        async with cache.sessionmaker() as session, session.begin():
            await repo.delete_entry(session, entry.sha3_384)
        await asyncio.to_thread(cache.store.delete, entry.sha3_384)
        dropped.append({**_entry(entry), "reason": "missing" if digest is None else "corrupt"})
    return {"verified": len(ok), "dropped": dropped}
