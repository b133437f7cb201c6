"""Internal API of the revisions service for imported snaps (offline mode).

Caller: the other snapproxy services only (devicegw answers info, find, sections, names and
refresh from it in airgap mode; downloads looks imported revisions up). Every route needs
the internal secret; the gateway does not route ``/_internal/``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from services.revisions import pushed
from services.revisions.routes import parsed_body
from shared.deps import SessionDep, require_internal
from shared.errors import NotFound
from shared.pushed_api import PushedSnapOut, PushedSnaps
from shared.revisions_api import ResolveAnswer, ResolveRequest, RevisionOut

router = APIRouter(
    prefix="/_internal/pushed",
    include_in_schema=False,
    dependencies=[Depends(require_internal)],
)


@router.get("/snaps")
async def list_snaps(session: SessionDep) -> PushedSnaps:
    return PushedSnaps(snaps=await pushed.all_snaps(session))


@router.get("/snaps/{name}")
async def get_snap(name: str, session: SessionDep) -> PushedSnapOut:
    found = await pushed.snap(session, name)
    if found is None:
        raise NotFound(f"snap {name!r} is not imported")
    return found


@router.get("/revisions/{snap_id}/{revision}")
async def get_revision(snap_id: str, revision: int, session: SessionDep) -> RevisionOut:
    found = await pushed.revision(session, snap_id, revision)
    if found is None:
        raise NotFound(f"revision {revision} of snap {snap_id} is not imported")
    return found


@router.post("/resolve")
async def resolve(request: Request, session: SessionDep) -> ResolveAnswer:
    queries = (await parsed_body(request, ResolveRequest)).queries
    return ResolveAnswer(results=[await pushed.resolve(session, q) for q in queries])
