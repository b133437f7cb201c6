"""Download routes (public: devices and ``snap download``): HTTP in, plain values to the
service, HTTP out. A hit is sent by nginx (``X-Accel-Redirect``) in the split topology and by
the server itself (``FileResponse``: the pathsend extension, which the embedded default's
server sends with ``sendfile``, shared/sendfile_http.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from services.downloads.answers import Chunk, FileSegment, Hit
from services.downloads.deps import PartsDep
from services.downloads.service import Download, DownloadRequest
from shared.credentials import store_credentials
from shared.device import device_architecture, device_series
from shared.gateway_config import (
    ACCEL_OBJECT_RANGES,
    ACCEL_OBJECT_WHOLE,
    ACCEL_RANGES,
    ACCEL_WHOLE,
    CACHE_RECHECK_HEADER,
)
from shared.sendfile_http import PATHSEND, ZEROCOPYSEND
from shared.upstream import relayed_headers

OCTET_STREAM = "application/octet-stream"
router = APIRouter()


class WholeFileResponse(FileResponse):
    """The whole file, whatever the request's Range says (it was judged and ignored)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(name, value) for name, value in scope["headers"] if name != b"range"]
        await super().__call__({**scope, "headers": headers}, receive, send)


class CachedFileResponse(Response):
    """A cached file, whole: the headers are known (size, tags), and a server that offers
    ``http.response.pathsend`` sends the file itself. What ``FileResponse`` does besides
    (an ETag and Last-Modified of its own, which these tags replace, and Range handling,
    already decided) is left out of a hit's path; other servers get ``WholeFileResponse``."""

    media_type = OCTET_STREAM

    def __init__(
        self, path: Path, size: int, stat: os.stat_result | None, tags: dict[str, str]
    ) -> None:
        length = str(size)
        super().__init__(headers={"Content-Length": length, "Accept-Ranges": "bytes", **tags})
        self.path, self.stat, self.tags = path, stat, tags

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if PATHSEND not in scope.get("extensions", ()):
            whole = WholeFileResponse(
                self.path, media_type=OCTET_STREAM, headers=self.tags, stat_result=self.stat
            )
            await whole(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": PATHSEND, "path": str(self.path)})


class FollowedResponse(StreamingResponse):
    """A stream whose parts of open files (``FileSegment``: the request said ``zero_copy``,
    the server offers ``http.response.zerocopysend``) the server sends itself."""

    def __init__(
        self,
        chunks: AsyncIterator[Chunk],
        status_code: int,
        media_type: str,
        headers: Mapping[str, str],
    ) -> None:
        super().__init__((), status_code, headers, media_type)
        self.chunks = chunks

    async def stream_response(self, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        async for chunk in self.chunks:
            if isinstance(chunk, FileSegment):
                with open(chunk.fd, "rb", buffering=0, closefd=False) as file:
                    part = {"type": ZEROCOPYSEND, "file": file, "offset": chunk.offset}
                    await send({**part, "count": chunk.count, "more_body": True})
            else:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def device_headers(relayed: Mapping[str, str]) -> dict[str, str]:
    """What a store lookup for this device needs (downloads carry the v1 header names)."""
    found = {"User-Agent": relayed.get("user-agent", "snapproxy")}
    architecture = device_architecture(relayed, v1_path=True)
    if architecture:
        found["Snap-Device-Architecture"] = architecture
    series = device_series(relayed, v1_path=True)
    if series:
        found["Snap-Device-Series"] = series
    return found


def _headers(download: Download, modified: str | None) -> dict[str, str]:
    facts, byte_range = download.facts, download.byte_range
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": f'"{facts.sha3_384}"',
        "Content-Length": str(facts.size),
    }
    if modified:
        headers["Last-Modified"] = modified
    if byte_range is not None:
        start, end = byte_range
        headers["Content-Range"] = f"bytes {start}-{end}/{facts.size}"
        headers["Content-Length"] = str(end - start + 1)
    return headers


def respond(download: Download, accel_redirect: bool) -> Response:
    content = download.content
    if content is None:  # HEAD for a blob not cached yet: what the proxy knows of it
        return Response(headers=_headers(download, None), media_type=OCTET_STREAM)
    if isinstance(content, Hit):
        stored = content.stored
        modified = formatdate(stored.modified, usegmt=True)
        tags = {"ETag": f'"{download.facts.sha3_384}"', "Last-Modified": modified}
        # The range was decided here (parse_range): the server that sends the file applies
        # it, or ignores the request's Range when this said "the whole file".
        if stored.path is None:  # an object in the store
            if content.url is None:  # HEAD: what the proxy knows of it
                return Response(headers={**_headers(download, None), **tags})
            if not accel_redirect:  # the client fetches the object itself
                return RedirectResponse(content.url, status_code=302, headers=tags)
            object_url = urlsplit(content.url)
            location = ACCEL_OBJECT_RANGES if download.byte_range else ACCEL_OBJECT_WHOLE
            target = f"{location}{download.facts.sha3_384}{object_url.path}?{object_url.query}"
            return Response(headers={**tags, "X-Accel-Redirect": target}, media_type=OCTET_STREAM)
        if accel_redirect:  # nginx sends the file, with Range, Content-Length, Accept-Ranges
            location = ACCEL_RANGES if download.byte_range else ACCEL_WHOLE
            return Response(
                headers={**tags, "X-Accel-Redirect": location + stored.relative},
                media_type=OCTET_STREAM,
            )
        if download.byte_range:
            return FileResponse(
                stored.path, media_type=OCTET_STREAM, headers=tags, stat_result=stored.stat
            )
        return CachedFileResponse(stored.path, stored.size, stored.stat, tags)
    return FollowedResponse(
        content.body,
        status_code=206 if download.byte_range else 200,
        media_type=OCTET_STREAM,
        headers=_headers(download, None),
    )


async def _serve(filename: str, request: Request, parts: PartsDep) -> Response:
    relayed = relayed_headers(request.headers.items())  # 400 for bytes snapd never sends
    download = await parts.downloads.open(
        DownloadRequest(
            filename=filename,
            head=request.method == "HEAD",
            range_header=request.headers.get("range"),
            client=request.client.host if request.client else None,
            device=device_headers(relayed),
            credentials=store_credentials(relayed),
            recheck=CACHE_RECHECK_HEADER in request.headers,
            zero_copy=ZEROCOPYSEND in request.scope.get("extensions", ()),
        )
    )
    return respond(download, parts.accel_redirect)


@router.get("/api/v1/snaps/download/{filename}", summary="Download a snap (devices, public)")
async def download(filename: str, request: Request, parts: PartsDep) -> Response:
    return await _serve(filename, request, parts)


@router.head(
    "/api/v1/snaps/download/{filename}",
    summary="A snap download's headers (devices, public)",
    operation_id="download_headers",
)
async def download_headers(filename: str, request: Request, parts: PartsDep) -> Response:
    return await _serve(filename, request, parts)


@router.get("/download/{filename}", summary="Download a snap (short URL; devices, public)")
async def download_short(filename: str, request: Request, parts: PartsDep) -> Response:
    return await _serve(filename, request, parts)


@router.head(
    "/download/{filename}",
    summary="A snap download's headers (short URL; devices, public)",
    operation_id="download_short_headers",
)
async def download_short_headers(filename: str, request: Request, parts: PartsDep) -> Response:
    return await _serve(filename, request, parts)
