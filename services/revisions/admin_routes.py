"""The overrides' admin API. Caller: the admin (``Authorization: Bearer <admin token>``,
checked by ``shared.admission`` before the body is read, and by every route here).

- ``GET /v2/metadata/overrides/{snap_name}`` and ``POST /v2/metadata/overrides``: the Snap
  Store Proxy's overrides API, in its shapes;
- ``POST /v1/overrides/freeze``, ``/unfreeze``, ``/promote`` and ``GET /v1/overrides/log``:
  snapproxy's own.

Every change is committed, then every devicegw process is told (the generation key in the
shared cache) before the answer leaves: the next device request sees it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from services.revisions import freezes, overrides
from services.revisions.deps import CacheDep, RecordPolicyDep
from services.revisions.overrides import Change, Context
from shared.channels import ChannelError, parse_channel
from shared.deps import ClientAddressDep, ResourcesDep, SessionDep, require_admin
from shared.errors import BadRequest
from shared.names import MAX_REVISION, SNAP_NAME, is_snap_name
from shared.overrides_api import GENERATION_KEY, GENERATION_TTL

router = APIRouter(dependencies=[Depends(require_admin)])
MAX_CHANGES = 100  # items of one POST
MAX_LOG = 1000
ACTOR_HEADER = "x-snapproxy-actor"
_ACTOR = re.compile(r"[A-Za-z0-9@._+-]{1,64}")


def _snap_name(value: str) -> str:
    if not is_snap_name(value):
        raise ValueError("not a snap name (lowercase letters, digits and hyphens)")
    return value


def _channel(value: str) -> str:
    try:
        return parse_channel(value)
    except ChannelError as exc:
        raise ValueError(str(exc)) from None


class OverrideIn(BaseModel):
    """One item of ``POST /v2/metadata/overrides``; ``revision: null`` deletes."""

    model_config = ConfigDict(strict=True, extra="forbid")

    snap_name: str = Field(max_length=40, json_schema_extra={"pattern": f"^{SNAP_NAME.pattern}$"})
    channel: str = Field(max_length=128)
    revision: int | None = Field(ge=1, le=MAX_REVISION)
    series: str = "16"

    _name = field_validator("snap_name")(_snap_name)
    _full_channel = field_validator("channel")(_channel)

    @field_validator("series")
    @classmethod
    def _series_16(cls, value: str) -> str:
        if value != "16":
            raise ValueError("only series 16 exists")
        return value


class Override(BaseModel):
    snap_id: str
    snap_name: str
    revision: int
    upstream_revision: int | None
    channel: str
    architecture: str
    series: str


class Overrides(BaseModel):
    overrides: list[Override]


class FreezeIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    snaps: list[str] = Field(default_factory=list, max_length=MAX_CHANGES)
    channel: str | None = Field(default=None, max_length=128)

    @field_validator("snaps")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        return [_snap_name(name) for name in value]

    @field_validator("channel")
    @classmethod
    def _full_channel(cls, value: str | None) -> str | None:
        return None if value is None else _channel(value)


class PromoteIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    snap_name: str = Field(max_length=40)
    from_channel: str = Field(max_length=128)
    to_channel: str = Field(max_length=128)

    _name = field_validator("snap_name")(_snap_name)
    _channels = field_validator("from_channel", "to_channel")(_channel)


async def changing_session(resources: ResourcesDep, cache: CacheDep) -> AsyncIterator[AsyncSession]:
    """One transaction; once committed (before the answer is sent: ``scope="function"``),
    a new generation in the shared cache tells every devicegw process."""
    async with resources.sessionmaker() as session, session.begin():
        yield session
    await cache.set(GENERATION_KEY, uuid.uuid4().hex.encode(), GENERATION_TTL)


ChangingSessionDep = Annotated[AsyncSession, Depends(changing_session, scope="function")]


async def get_context(
    request: Request, resources: ResourcesDep, policy: RecordPolicyDep, address: ClientAddressDep
) -> Context:
    """The upstream, what may be recorded, and who asks: the name the admin's client gives
    (``X-Snapproxy-Actor``, e.g. ``snap-proxy``'s user@host) and the address it came from."""
    given = request.headers.get(ACTOR_HEADER, "")
    who = given if _ACTOR.fullmatch(given) else "admin"
    return Context(resources.upstream, policy, f"{who} from {address or 'unknown'}")


ContextDep = Annotated[Context, Depends(get_context)]


@router.get(
    "/v2/metadata/overrides/{snap_name}",
    summary="A snap's overrides, with the upstream's revision in each channel (admin)",
)
async def list_overrides(snap_name: str, session: SessionDep, resources: ResourcesDep) -> Overrides:
    if not is_snap_name(snap_name):
        raise BadRequest("snap_name: not a snap name (lowercase letters, digits and hyphens)")
    found = await overrides.list_overrides(session, resources.upstream, snap_name)
    return Overrides(overrides=[Override(**item) for item in found])


@router.post(
    "/v2/metadata/overrides",
    summary="Set overrides; a null revision deletes that channel's (admin)",
)
async def set_overrides(
    items: Annotated[list[OverrideIn], Body(min_length=1, max_length=MAX_CHANGES)],
    session: ChangingSessionDep,
    context: ContextDep,
) -> Overrides:
    changes = [Change(item.snap_name, item.channel, item.revision, item.series) for item in items]
    found = await overrides.apply_changes(session, context, changes)
    return Overrides(overrides=[Override(**item) for item in found])


@router.post("/v1/overrides/freeze", summary="Pin every channel seen at its revision (admin)")
async def freeze(
    request: FreezeIn, session: ChangingSessionDep, context: ContextDep
) -> dict[str, Any]:
    return {"changes": await freezes.freeze(session, context, request.snaps, request.channel)}


@router.post("/v1/overrides/unfreeze", summary="Drop the pins freeze made (admin)")
async def unfreeze(
    request: FreezeIn, session: ChangingSessionDep, context: ContextDep
) -> dict[str, Any]:
    return {"changes": await freezes.unfreeze(session, context, request.snaps, request.channel)}


@router.post(
    "/v1/overrides/promote",
    summary="Give one channel's devices what another channel's get now (admin)",
)
async def promote(
    request: PromoteIn, session: ChangingSessionDep, context: ContextDep
) -> dict[str, Any]:
    changes = await freezes.promote(
        session, context, request.snap_name, request.from_channel, request.to_channel
    )
    return {"changes": changes}


@router.get("/v1/overrides/log", summary="Every change to the overrides, newest first (admin)")
async def change_log(
    session: SessionDep,
    snap: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LOG)] = 100,
) -> dict[str, Any]:
    if snap is not None and not is_snap_name(snap):
        raise BadRequest("snap: not a snap name (lowercase letters, digits and hyphens)")
    return {"changes": await freezes.change_log(session, snap, limit)}
