"""Internal API of the revisions service.

Caller: the other snapproxy services only (devicegw records what answers showed, resolves
revisions when the upstream is away and reads the overrides; downloads looks revisions up).
The overrides' admin API is in ``admin_routes``. Every route
needs the internal secret (``shared.internal``), checked before the body is read; the
gateway does not route ``/_internal/``.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from services.revisions import overrides, service
from services.revisions.deps import CacheDep, RecordPolicyDep
from shared.admission import INTERNAL_MAX_BODY_BYTES
from shared.cache import Cache
from shared.deps import SessionDep, require_internal
from shared.http import read_limited_body
from shared.overrides_api import OverrideSnapshot
from shared.revisions_api import (
    Observation,
    ResolveAnswer,
    ResolveRequest,
    RevisionOut,
    facts_key,
)

router = APIRouter(
    prefix="/_internal", include_in_schema=False, dependencies=[Depends(require_internal)]
)

Message = TypeVar("Message", bound=BaseModel)


async def parsed_body(request: Request, model: type[Message]) -> Message:
    """The body as ``model`` (read only once the secret was checked); 400 when it is not."""
    body = await read_limited_body(request, INTERNAL_MAX_BODY_BYTES)
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


async def forget_facts(cache: Cache, observation: Observation) -> None:
    """Drop the download facts the downloads service cached for what was just recorded
    (run after the commit, so its next read-through sees the new record)."""
    for item in observation.revisions:
        await cache.delete(facts_key(item.snap_id, item.revision))


@router.post("/observations", status_code=204)
async def record_observation(
    request: Request,
    session: SessionDep,
    policy: RecordPolicyDep,
    cache: CacheDep,
    after_commit: BackgroundTasks,
) -> Response:
    observation = await parsed_body(request, Observation)
    await service.record(session, observation, policy)
    after_commit.add_task(forget_facts, cache, observation)
    return Response(status_code=204)


@router.get("/revisions/{snap_id}/{revision}")
async def get_revision(snap_id: str, revision: int, session: SessionDep) -> RevisionOut:
    return await service.get(session, snap_id, revision)


@router.post("/resolve")
async def resolve(request: Request, session: SessionDep) -> ResolveAnswer:
    queries = (await parsed_body(request, ResolveRequest)).queries
    return ResolveAnswer(results=[await service.resolve(session, q) for q in queries])


@router.get("/overrides")
async def override_snapshot(session: SessionDep) -> OverrideSnapshot:
    """Every pin, for devicegw (``shared.overrides_api``)."""
    return await overrides.snapshot(session)
