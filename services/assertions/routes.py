"""HTTP routes of the assertions service: parse the request, ask the service, send bytes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from shared.deps import SettingsDep
from shared.errors import BadRequest
from shared.upstream import relayed_headers

from .deps import AssertionsDep
from .keys import check_type, parse_request

router = APIRouter()

V2_PREFIX = "/v2/assertions"
V1_PREFIX = "/api/v1/snaps/assertions"


@router.get(V2_PREFIX + "/{kind}/{key:path}")
@router.get(V1_PREFIX + "/{kind}/{key:path}")
async def get_assertion(
    kind: str, key: str, request: Request, assertions: AssertionsDep, settings: SettingsDep
) -> Response:
    """One assertion by type and (reduced) primary key, or an upstream stream URL."""
    query = {name: request.query_params.getlist(name) for name in request.query_params}
    parsed = parse_request(kind, key, query, request.url.query)
    answer = await assertions.get(
        parsed, relayed_headers(request.headers.items()), airgap=settings.airgap
    )
    return Response(
        answer.body, status_code=answer.status, media_type=answer.media_type, headers=answer.headers
    )


@router.get(V2_PREFIX + "/{kind}")
@router.get(V1_PREFIX + "/{kind}")
async def missing_key(kind: str) -> Response:
    check_type(kind)
    raise BadRequest(f"no primary key given for the {kind!r} assertion")
