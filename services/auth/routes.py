"""HTTP routes of the auth service: device sessions and the admin device list."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.auth.repository import DeviceRepository
from services.auth.service import MAX_SESSION_BODY, AuthService, Caller, Relayed
from shared.admin import require_admin
from shared.db import SessionDep
from shared.errors import PayloadTooLarge
from shared.upstream import relayed_headers

router = APIRouter()


def get_service(request: Request, session: SessionDep) -> AuthService:
    return AuthService(request.app.state.resources.upstream, DeviceRepository(session))


ServiceDep = Annotated[AuthService, Depends(get_service)]


def client_address(request: Request) -> str | None:
    """The address the gateway saw (the last X-Forwarded-For entry, which nginx appends;
    earlier entries come from the client and can say anything), else the peer's address."""
    forwarded = request.headers.get("x-forwarded-for", "")
    last = forwarded.rsplit(",", 1)[-1].strip()
    if last:
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass
    return request.client.host if request.client else None


def caller_of(request: Request) -> Caller:
    return Caller(
        headers=relayed_headers(request.headers.items()),
        address=client_address(request),
        user_agent=request.headers.get("user-agent"),
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or PayloadTooLarge as soon as it is known to exceed ``limit``."""
    too_large = PayloadTooLarge(f"request body over {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def relayed_response(relayed: Relayed) -> Response:
    return Response(relayed.content, status_code=relayed.status_code, headers=relayed.headers)


@router.post("/api/v1/snaps/auth/nonces")
async def nonces(request: Request, service: ServiceDep) -> Response:
    return relayed_response(await service.nonce(caller_of(request)))


@router.post("/api/v1/snaps/auth/sessions")
async def sessions(request: Request, service: ServiceDep) -> Response:
    body = await read_body(request, MAX_SESSION_BODY)
    return relayed_response(await service.session(body, caller_of(request)))


@router.get("/v1/devices", dependencies=[Depends(require_admin)])
async def devices(
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many devices")] = 100,
) -> dict[str, Any]:
    """Devices that asked for a session, most recently seen first."""
    return {"devices": await service.list_devices(limit)}
