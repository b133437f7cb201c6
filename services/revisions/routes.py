"""Internal API of the revisions service (reached directly by the other services)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.revisions import service
from shared.db import SessionDep
from shared.revisions_api import Observation, ResolveAnswer, ResolveRequest, RevisionOut

router = APIRouter(prefix="/_internal", include_in_schema=False)


@router.post("/observations", status_code=204)
async def record_observation(observation: Observation, session: SessionDep) -> Response:
    await service.record(session, observation)
    return Response(status_code=204)


@router.get("/revisions/{snap_id}/{revision}")
async def get_revision(snap_id: str, revision: int, session: SessionDep) -> RevisionOut:
    return await service.get(session, snap_id, revision)


@router.post("/resolve")
async def resolve(request: ResolveRequest, session: SessionDep) -> ResolveAnswer:
    return ResolveAnswer(results=[await service.resolve(session, q) for q in request.queries])
