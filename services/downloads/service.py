"""Serving a snap download: a hit from the cache, or a miss streamed while the cache fills."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.utils import format_datetime

from fastapi import Request, Response
from fastapi.responses import FileResponse, StreamingResponse

from services.downloads import repository as repo
from services.downloads.blobcache import BlobCache, Filling, Hit
from services.downloads.fetch import FillError
from services.downloads.lookup import find_revision, parse_blob_name
from services.downloads.ranges import parse_range
from shared.app import Resources
from shared.errors import UpstreamUnavailable
from shared.models import utcnow
from shared.revisions_api import RevisionOut, RevisionsClient

OCTET_STREAM = "application/octet-stream"


class Downloads:
    def __init__(self, resources: Resources, cache: BlobCache) -> None:
        self.resources = resources
        self.cache = cache
        self.revisions = RevisionsClient(resources.peers)
        self.accel = resources.settings.accel_redirect

    async def _count(self, name: str, **increments: int) -> None:
        async with self.resources.sessionmaker() as session, session.begin():
            await repo.bump(session, name, **increments)

    async def serve(self, request: Request, filename: str) -> Response:
        snap_id, number = parse_blob_name(filename)
        revision = await find_revision(
            self.revisions, self.resources.upstream, request, snap_id, number
        )
        head = request.method == "HEAD"
        byte_range = parse_range(request.headers.get("range"), revision.size)
        try:
            located = await self.cache.locate(revision, start_fill=not head)
        except FillError as exc:
            raise UpstreamUnavailable(f"cannot fetch {revision.name}: {exc}") from None
        if isinstance(located, Hit):
            return await self._hit(located, revision, byte_range, head)
        if located is None:  # HEAD on a blob not cached yet: answer from what we know
            return Response(headers=self._headers(revision, None, None), media_type=OCTET_STREAM)
        return await self._miss(located, revision, byte_range)

    def _headers(
        self, revision: RevisionOut, byte_range: tuple[int, int] | None, modified: str | None
    ) -> dict[str, str]:
        headers = {
            "Accept-Ranges": "bytes",
            "ETag": f'"{revision.sha3_384}"',
            "Content-Length": str(revision.size),
            "Last-Modified": modified or format_datetime(utcnow(), usegmt=True),
        }
        if byte_range is not None:
            start, end = byte_range
            headers["Content-Range"] = f"bytes {start}-{end}/{revision.size}"
            headers["Content-Length"] = str(end - start + 1)
        return headers

    async def _hit(
        self, hit: Hit, revision: RevisionOut, byte_range: tuple[int, int] | None, head: bool
    ) -> Response:
        sha3 = revision.sha3_384
        sent = 0 if head else (byte_range[1] - byte_range[0] + 1 if byte_range else revision.size)
        async with self.resources.sessionmaker() as session, session.begin():
            await repo.touch_entry(session, sha3)
            await repo.bump(session, revision.name, hits=1, bytes_from_cache=sent)
        modified = format_datetime(hit.entry.stored_at, usegmt=True)
        if self.accel:
            headers = self._headers(revision, None, modified)
            del headers["Content-Length"], headers["Accept-Ranges"]  # nginx sets both
            headers["X-Accel-Redirect"] = self.cache.store.accel_path(sha3)
            return Response(headers=headers, media_type=OCTET_STREAM)
        return FileResponse(
            self.cache.store.local_path(sha3),
            media_type=OCTET_STREAM,
            headers={"ETag": f'"{sha3}"', "Last-Modified": modified},
        )

    async def _miss(
        self, filling: Filling, revision: RevisionOut, byte_range: tuple[int, int] | None
    ) -> Response:
        start, end = byte_range or (0, revision.size - 1)
        await self._count(revision.name, misses=1)
        try:
            first, rest = await self.cache.first_chunk(filling, revision.sha3_384, start, end)
        except FillError as exc:
            raise UpstreamUnavailable(f"cannot fetch {revision.name}: {exc}") from None

        async def body() -> AsyncIterator[bytes]:
            if first:
                yield first
            async for chunk in rest:
                yield chunk

        return StreamingResponse(
            body(),
            status_code=206 if byte_range else 200,
            media_type=OCTET_STREAM,
            headers=self._headers(revision, byte_range, None),
        )
