"""The device gateway's parts, as typed FastAPI dependencies (attached by ``create_app``),
and the device's request in plain values."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.devicegw.clients import OtherClients
from services.devicegw.relay import DeviceRequest
from services.devicegw.service import DeviceGateway
from shared.deps import ClientAddressDep, PublicUrlDep, dependency
from shared.upstream import relayed_headers

GatewayDep = Annotated[DeviceGateway, Depends(dependency(DeviceGateway))]
OtherClientsDep = Annotated[OtherClients, Depends(dependency(OtherClients))]


async def get_device_request(
    request: Request, base_url: PublicUrlDep, address: ClientAddressDep
) -> DeviceRequest:
    """The headers to relay (400 for bytes snapd never sends), the path and raw query, and
    who asked (address and user agent)."""
    return DeviceRequest(
        headers=relayed_headers(request.headers.items()),
        base_url=base_url,
        path=request.url.path,
        query=request.url.query,
        address=address,
        user_agent=request.headers.get("user-agent"),
    )


DeviceRequestDep = Annotated[DeviceRequest, Depends(get_device_request)]
