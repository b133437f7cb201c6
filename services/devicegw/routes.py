"""Device API routes (public: devices): HTTP in, plain values to :class:`DeviceGateway`,
HTTP out. The refresh body and the queries are relayed upstream as the device sent them, so
the routes read them raw; their shapes are declared for the OpenAPI document all the same."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse

from services.devicegw.client_setup import client_setup_script
from services.devicegw.deps import DeviceRequestDep, GatewayDep, OtherClientsDep
from services.devicegw.relay import Answer
from services.devicegw.schemas import SnapActionRequest
from shared.deps import PublicUrlDep, SettingsDep, require_admin, require_internal
from shared.http import read_limited_body
from shared.openapi import request_body
from shared.tls import client_ca, fingerprint

router = APIRouter()
Relayed = Annotated[str | None, Query(description="relayed to the upstream store as it is")]


def respond(answer: Answer) -> Response:
    return Response(
        answer.body, status_code=answer.status, media_type=answer.media_type, headers=answer.headers
    )


async def info_query(fields: Relayed = None, architecture: Relayed = None) -> None:
    """The query of ``/v2/snaps/info`` snapd sends."""


async def find_query(
    q: Relayed = None,
    name: Relayed = None,
    category: Relayed = None,
    channel: Relayed = None,
    fields: Relayed = None,
    architecture: Relayed = None,
    confinement: Relayed = None,
    private: Relayed = None,
    scope: Relayed = None,
) -> None:
    """The query of ``/v2/snaps/find`` snapd sends."""


async def names_query(confinement: Relayed = None) -> None:
    """The query of ``/api/v1/snaps/names`` snapd sends."""


@router.post(
    "/v2/snaps/refresh",
    summary="Install, refresh, download and fetch assertions (devices, public)",
    openapi_extra=request_body(SnapActionRequest),
)
async def refresh(request: Request, device: DeviceRequestDep, gateway: GatewayDep) -> Response:
    body = await read_limited_body(request)  # relayed byte-exact
    return respond(await gateway.refresh(body, device))


@router.get(
    "/v2/snaps/info/{name}",
    summary="A snap's details and channel map (devices, public)",
    dependencies=[Depends(info_query)],
)
async def info(name: str, device: DeviceRequestDep, gateway: GatewayDep) -> Response:
    return respond(await gateway.info(name, device))


@router.get(
    "/v2/snaps/find",
    summary="Search snaps (devices, public)",
    dependencies=[Depends(find_query)],
)
async def find(device: DeviceRequestDep, gateway: GatewayDep) -> Response:
    return respond(await gateway.find(device))


@router.get("/v2/snaps/categories", summary="Snap categories (snapd 2.60+; devices, public)")
async def categories(device: DeviceRequestDep, gateway: GatewayDep) -> Response:
    return respond(await gateway.catalog("categories", device))


@router.get("/api/v1/snaps/sections", summary="Snap sections (hal+json; devices, public)")
async def sections(device: DeviceRequestDep, gateway: GatewayDep) -> Response:
    return respond(await gateway.catalog("sections", device))


@router.get(
    "/api/v1/snaps/names",
    summary="The command catalog (hal+json; devices, public)",
    dependencies=[Depends(names_query)],
)
async def names(device: DeviceRequestDep, gateway: GatewayDep) -> Response:
    return respond(await gateway.catalog("names", device))


@router.get(
    "/client-setup.sh",
    response_class=PlainTextResponse,
    summary="Client setup script (devices' admins, public)",
)
async def client_setup(base_url: PublicUrlDep, settings: SettingsDep) -> PlainTextResponse:
    ca = client_ca(settings.tls_cert) if settings.tls_enabled and settings.tls_cert else None
    script = client_setup_script(base_url, ca, fingerprint(ca) if ca else "")
    return PlainTextResponse(script, media_type="text/x-shellscript")


@router.get(
    "/v1/clients", summary="Other clients seen (admin)", dependencies=[Depends(require_admin)]
)
async def other_clients(
    clients: OtherClientsDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many clients")] = 100,
) -> dict[str, Any]:
    """Admin: clients that used the device API without a device session (``snap download``),
    by address, most recently seen first; ``other-clients`` counts those of the last 24 h."""
    return await clients.listing(limit)


@router.get(
    "/_internal/clients/count",
    include_in_schema=False,
    dependencies=[Depends(require_internal)],
)
async def other_clients_count(clients: OtherClientsDep) -> dict[str, int]:
    """Internal secret (the auth service, for a registered child's report to its parent):
    clients without a device session seen in the last 24 hours."""
    return {"other-clients": await clients.count()}
