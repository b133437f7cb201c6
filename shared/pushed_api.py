"""The revisions service's internal API for imported snaps (offline mode): its messages and
the client devicegw and downloads use in airgap mode. Unlike :class:`RevisionsClient`, a
failure is not 'unknown' here: it is a 503 (the data is local; not reaching it is an error,
not a not-found)."""

from __future__ import annotations

from typing import Any

import httpx
import structlog
from pydantic import BaseModel

from shared.errors import SnapProxyError
from shared.logging import current_request_id
from shared.revisions_api import ResolveAnswer, ResolveQuery, ResolveRequest, RevisionOut

log = structlog.get_logger(__name__)


class PushedChannelOut(BaseModel):
    architecture: str
    channel: str
    revision: int


class PushedSnapOut(BaseModel):
    """An imported snap: the info answer and find result as exported, and its channels."""

    name: str
    snap_id: str
    info: dict[str, Any]
    find: dict[str, Any] | None
    channels: list[PushedChannelOut]
    revisions: list[int]


class PushedSnaps(BaseModel):
    snaps: list[PushedSnapOut]


class ImportedDataUnavailable(SnapProxyError):
    status_code = 503
    code = "service-unavailable"


class PushedClient:
    """Calls to the revisions service about imported snaps."""

    def __init__(self, peers: dict[str, httpx.AsyncClient], timeout: float = 3.0) -> None:
        self.peers = peers
        self.timeout = timeout

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        request_id = current_request_id()
        headers = {"content-type": "application/json"}
        if request_id:
            headers["X-Request-Id"] = request_id
        try:
            response = await self.peers["revisions"].request(
                method, path, headers=headers, timeout=self.timeout, **kwargs
            )
        except httpx.HTTPError as exc:
            log.warning("pushed.lookup_failed", error=str(exc) or type(exc).__name__)
            raise ImportedDataUnavailable("the imported snaps cannot be read now") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ImportedDataUnavailable("the imported snaps cannot be read now")
        return response

    async def snap(self, name: str) -> PushedSnapOut | None:
        response = await self._call("GET", f"/_internal/pushed/snaps/{name}")
        return PushedSnapOut.model_validate_json(response.content) if response else None

    async def snaps(self) -> list[PushedSnapOut]:
        response = await self._call("GET", "/_internal/pushed/snaps")
        return PushedSnaps.model_validate_json(response.content).snaps if response else []

    async def revision(self, snap_id: str, revision: int) -> RevisionOut | None:
        response = await self._call("GET", f"/_internal/pushed/revisions/{snap_id}/{revision}")
        return RevisionOut.model_validate_json(response.content) if response else None

    async def resolve(self, queries: list[ResolveQuery]) -> list[RevisionOut | None]:
        if not queries:
            return []
        body = ResolveRequest(queries=queries).model_dump_json()
        response = await self._call("POST", "/_internal/pushed/resolve", content=body)
        return ResolveAnswer.model_validate_json(response.content).results if response else []
