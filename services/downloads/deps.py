"""The downloads service's parts, as typed FastAPI dependencies (built by ``create_app``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.downloads.blobcache import BlobCache
from services.downloads.service import Downloads
from shared.deps import dependency


@dataclass(frozen=True)
class DownloadsParts:
    downloads: Downloads
    cache: BlobCache
    accel_redirect: bool


PartsDep = Annotated[DownloadsParts, Depends(dependency(DownloadsParts))]


async def get_cache(parts: PartsDep) -> BlobCache:
    return parts.cache


CacheDep = Annotated[BlobCache, Depends(get_cache)]
