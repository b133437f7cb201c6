"""The "CDN": serves blobs with Range/206, HEAD, ETag, and the body faults.

A private snap's blob is served only with the grant its download redirect carries
(``?expires=...&grant=...``, see ``access.py``): without one, with a tampered or expired one,
or with the grant of another blob, the CDN answers 403 and counts ``cdn-refused`` in the
blob's ``/_sim/stats`` entry. Public blobs need no grant (a query string is ignored)."""

from __future__ import annotations

import asyncio
import os
from email.utils import formatdate
from pathlib import Path

from starlette.types import Message, Receive, Scope, Send

from .access import grant_valid
from .endpoints import BLOB_NAME
from .faults import Faults
from .responses import compact, error_body
from .state import SimState

PREFIX = "/download-origin/"
TEMPLATE = "/download-origin/{file}"
CHUNK = 256 * 1024
STALL_LIMIT = 600.0


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """One ``bytes=`` range as (first, last); ``"unsatisfiable"``; None = whole file."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first_s, sep, last_s = header[6:].strip().partition("-")
    if not sep or not (first_s.isdigit() or last_s.isdigit()):
        return None
    if not first_s:
        length = int(last_s)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    if last_s and not last_s.isdigit():
        return None
    first = int(first_s)
    if last_s and int(last_s) < first:
        return None
    if first >= size:
        return "unsatisfiable"
    last = int(last_s) if last_s else size - 1
    return first, min(last, size - 1)


async def _simple(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json_error(send: Send, status: int, code: str, message: str) -> None:
    body = compact(error_body(code, message))
    await _simple(send, status, body, [(b"content-type", b"application/json")])


class CdnApp:
    def __init__(self, state: SimState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        state, method, path = self.state, scope["method"], scope["path"]
        state.stats.arrived("cdn", scope)
        if not path.startswith(PREFIX):
            state.stats.request(method, "*")
            await _json_error(send, 404, "not-found", f"Path {path} not found.")
            return
        state.stats.request(method, TEMPLATE)
        if method not in ("GET", "HEAD"):
            await _json_error(send, 405, "method-not-allowed", f"Method {method} not allowed.")
            return
        await state.faults.delay()
        await state.faults.hold(path, default=False)
        faults = state.faults.claim()
        if faults.error_status is not None and faults.matches(path, default=False):
            code = "service-unavailable" if faults.error_status == 503 else "error"
            await _json_error(send, faults.error_status, code, "simulated failure")
            return
        match = BLOB_NAME.match(path[len(PREFIX) :])
        found = None
        if match:
            snap = state.catalogue().by_id(match["snap_id"])
            rev = snap.revision(int(match["revision"])) if snap else None
            found = (snap, rev) if snap and rev else None
        if found is None:
            await _json_error(send, 404, "not-found", f"No blob {path[len(PREFIX) :]}.")
            return
        snap, rev = found
        if snap.private:
            state.stats.private_blob(rev.file)
            blob_name = path[len(PREFIX) :]
            if not grant_valid(state.secret, blob_name, scope["query_string"].decode("latin-1")):
                state.stats.private_blob(rev.file, "cdn-refused")
                await _json_error(send, 403, "forbidden", f"No valid grant for {blob_name}.")
                return
        if rev.pending:
            try:
                built = (await state.wait_built({rev.file})).by_file(rev.file)
            except (TimeoutError, RuntimeError) as exc:
                await _json_error(send, 503, "service-unavailable", str(exc))
                return
            rev = built[1] if built else rev
        state.stats.blob_request(rev.file)
        etag = f'"{rev.sha3_384}"'
        await self._serve_file(
            scope, receive, send, state.data.snaps / rev.file, rev.file, etag, faults
        )

    async def _serve_file(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        path: Path,
        name: str,
        etag: str,
        claimed: Faults,
    ) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        try:
            st = os.stat(path)
        except FileNotFoundError:
            await _json_error(send, 404, "not-found", f"Blob {name} is missing on disk.")
            return
        size = st.st_size
        base = [
            (b"accept-ranges", b"bytes"),
            (b"etag", etag.encode()),
            (b"last-modified", formatdate(st.st_mtime, usegmt=True).encode()),
        ]
        inm = headers.get("if-none-match")
        if inm and (inm.strip() == "*" or etag in [t.strip() for t in inm.split(",")]):
            await _simple(send, 304, b"", base)
            return
        wanted = parse_range(headers.get("range"), size)
        if_range = headers.get("if-range")
        if if_range and if_range.strip() != etag:
            wanted = None
        if wanted == "unsatisfiable":
            await _simple(send, 416, b"", [*base, (b"content-range", f"bytes */{size}".encode())])
            return
        first, last = wanted if isinstance(wanted, tuple) else (0, size - 1)
        status = 206 if isinstance(wanted, tuple) else 200
        length = max(0, last - first + 1)
        out = [
            *base,
            (b"content-type", b"application/octet-stream"),
            (b"content-length", str(length).encode()),
        ]
        if status == 206:
            out.append((b"content-range", f"bytes {first}-{last}/{size}".encode()))
        await send({"type": "http.response.start", "status": status, "headers": out})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        await self._stream(receive, send, path, name, first, length, claimed)

    async def _stream(
        self,
        receive: Receive,
        send: Send,
        path: Path,
        name: str,
        first: int,
        length: int,
        claimed: Faults,
    ) -> None:
        """The body, with the body faults: the current ones (they can change while it is sent,
        to end a stall), or those ``claimed`` for this request when they count requests."""
        state = self.state
        disconnected = asyncio.Event()

        async def watch() -> None:
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()
                    return

        watcher = asyncio.create_task(watch())
        loop = asyncio.get_running_loop()
        started, sent = loop.time(), 0
        try:
            with open(path, "rb") as handle:
                handle.seek(first)
                while sent < length and not disconnected.is_set():
                    faults = claimed if claimed.requests is not None else state.faults.current
                    if faults.stall_after is not None and sent >= faults.stall_after:
                        await self._stall(disconnected)
                        continue
                    if faults.truncate_after is not None and sent >= faults.truncate_after:
                        return  # uvicorn closes the connection: a short body
                    step = min(CHUNK, length - sent)
                    for limit in (faults.truncate_after, faults.stall_after):
                        if limit is not None:
                            step = min(step, limit - sent)
                    if faults.bandwidth_bps:
                        step = min(step, max(1024, faults.bandwidth_bps // 20))
                    chunk = handle.read(step)
                    if not chunk:
                        return
                    if faults.corrupt:
                        chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                    state.stats.blob_bytes(name, len(chunk))
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    sent += len(chunk)
                    if faults.bandwidth_bps:
                        wait = started + sent / faults.bandwidth_bps - loop.time()
                        if wait > 0:
                            await asyncio.sleep(wait)
            if not disconnected.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()

    async def _stall(self, disconnected: asyncio.Event) -> None:
        """Wait until the client goes away or the stall fault changes."""
        change = asyncio.create_task(self.state.faults.wait_change(STALL_LIMIT))
        gone = asyncio.create_task(disconnected.wait())
        try:
            await asyncio.wait({change, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            change.cancel()
            gone.cancel()
