"""Internal API of the downloads service.

Caller: the downloads processes of other nodes only (another service, with the internal
secret, ``shared.internal``; the gateway does not route ``/_internal/``). A process that
finds another node filling a blob streams the growing blob from it here, instead of fetching
it upstream again (``services.downloads.remote``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from services.downloads.deps import CacheDep
from shared.deps import require_internal

router = APIRouter(
    prefix="/_internal", include_in_schema=False, dependencies=[Depends(require_internal)]
)


@router.get("/v1/fills/{sha3_384}")
async def stream_own_fill(
    cache: CacheDep,
    sha3_384: str = Path(pattern="^[0-9a-f]{96}$"),
    start: int = Query(default=0, ge=0),
) -> StreamingResponse:
    """The blob this process is filling, from byte ``start``, as it is written (the last
    byte once it is verified); 404 when this process fills no such blob."""
    body = cache.own_fill_bytes(sha3_384, start)
    return StreamingResponse(body, media_type="application/octet-stream")
