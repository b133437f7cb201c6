"""HTTP routes of the auth service: device sessions and the admin device list."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.auth.deps import AuthServiceDep, ChildRegistryDep, DeviceLimitDep
from services.auth.schemas import SessionRequest
from services.auth.service import MAX_SESSION_BODY, Relayed
from services.auth.sightings import Caller
from services.auth.store_identity import ASSERTION_MEDIA_TYPE, served_assertions
from shared.deps import ClientAddressDep, SettingsDep, require_admin
from shared.errors import BadRequest
from shared.http import read_limited_body
from shared.openapi import request_body
from shared.registration.protocol import REGISTER_PATH
from shared.registration.report import MAX_REPORT_BODY, REPORT_PATH, SIGNATURE_HEADER
from shared.upstream import relayed_headers

MAX_REGISTRATION_BODY = 64 * 1024

router = APIRouter()


def caller_of(request: Request, address: str | None) -> Caller:
    return Caller(
        headers=relayed_headers(request.headers.items()),
        address=address,
        user_agent=request.headers.get("user-agent"),
    )


def relayed_response(relayed: Relayed) -> Response:
    return Response(relayed.content, status_code=relayed.status_code, headers=relayed.headers)


@router.post("/api/v1/snaps/auth/nonces", summary="A nonce for a device session (devices, public)")
async def nonces(request: Request, service: AuthServiceDep, address: ClientAddressDep) -> Response:
    return relayed_response(await service.nonce(caller_of(request, address)))


@router.post(
    "/api/v1/snaps/auth/sessions",
    summary="A device session (devices, public)",
    openapi_extra=request_body(SessionRequest),
)
async def sessions(
    request: Request,
    service: AuthServiceDep,
    address: ClientAddressDep,
    device_limit: DeviceLimitDep,
) -> Response:
    """A new device beyond ``proxy.device-limit`` gets 403 ``device-limit-reached``."""
    body = await read_limited_body(request, MAX_SESSION_BODY)  # relayed byte-exact
    caller = caller_of(request, address)
    return relayed_response(await service.session(body, caller, device_limit))


@router.get(
    "/v2/auth/store/assertions",
    summary="The store assertion and its account-key, for `snap ack` (devices, public)",
    response_class=Response,
)
async def store_assertions(settings: SettingsDep) -> Response:
    """Devices (public): what `snap-proxy register` got from the upstream, byte-exact; 404
    with an explanation while the proxy is not registered."""
    return Response(served_assertions(settings), media_type=ASSERTION_MEDIA_TYPE)


@router.post(
    REGISTER_PATH,
    summary="A child snapproxy registers (child proxies, public: the parent's admin token "
    "as the password)",
)
async def register_child(request: Request, registry: ChildRegistryDep) -> dict[str, Any]:
    """Child proxies (public endpoint; they authenticate with this proxy's admin token as the
    password in the body): a Store ID and a store assertion signed by this proxy's key."""
    body = await read_limited_body(request, MAX_REGISTRATION_BODY)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not JSON") from None
    return await registry.register(payload)


@router.post(
    REPORT_PATH,
    summary="A registered child proxy reports its figures (a registered child proxy: signed "
    "with its identity key)",
)
async def child_report(request: Request, registry: ChildRegistryDep) -> dict[str, Any]:
    """A registered child proxy (its report signed with the identity key it registered, in
    the Snapproxy-Report-Signature header): its connected devices and other clients, and
    this call as its last contact. 400 malformed, 401 not signed by a registered child, 409
    stale or replayed."""
    body = await read_limited_body(request, MAX_REPORT_BODY)
    return await registry.report(body, request.headers.get(SIGNATURE_HEADER))


@router.get(
    "/v1/children",
    summary="The child proxies registered here (admin)",
    dependencies=[Depends(require_admin)],
)
async def children(registry: ChildRegistryDep) -> dict[str, Any]:
    """Admin: every child proxy, with its domain, its last contact and its device count."""
    return {"children": await registry.children()}


@router.get("/v1/devices", summary="Devices seen (admin)", dependencies=[Depends(require_admin)])
async def devices(
    service: AuthServiceDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many devices")] = 100,
) -> dict[str, Any]:
    """Admin: devices that asked for a session, most recently seen first; ``verified`` marks
    the ones the upstream granted a session (the others are unverified sightings)."""
    return {"devices": await service.list_devices(limit)}


@router.get(
    "/v1/devices/summary",
    summary="Connected devices and the device limit (admin)",
    dependencies=[Depends(require_admin)],
)
async def devices_summary(service: AuthServiceDep, device_limit: DeviceLimitDep) -> dict[str, Any]:
    """Admin: devices with a session in the last 24 hours, ``proxy.device-limit`` (null: no
    limit), and the new devices the limit refused in that time (``snap-proxy status``);
    ``connected-devices-30d``: devices with a session in the last 30 days (the dashboard)."""
    return await service.summary(device_limit)


@router.get(
    "/v1/devices/refused",
    summary="Devices the device limit refused (admin)",
    dependencies=[Depends(require_admin)],
)
async def devices_refused(
    service: AuthServiceDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many devices")] = 100,
) -> dict[str, Any]:
    """Admin: new devices refused a session by ``proxy.device-limit``, most recent first."""
    return {"devices": await service.list_refusals(limit)}
