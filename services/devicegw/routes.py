"""Device API routes: thin handlers over :class:`DeviceGateway`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse

from services.devicegw.client_setup import client_setup_script
from services.devicegw.service import DeviceGateway


async def get_gateway(request: Request) -> DeviceGateway:
    # async: FastAPI runs a plain ``def`` dependency in its thread pool, on every request.
    gateway: DeviceGateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[DeviceGateway, Depends(get_gateway)]
router = APIRouter()


@router.post("/v2/snaps/refresh", summary="Install, refresh, download and fetch assertions")
async def refresh(request: Request, gateway: GatewayDep) -> Response:
    return await gateway.refresh(request)


@router.get("/v2/snaps/info/{name}", summary="A snap's details and channel map")
async def info(name: str, request: Request, gateway: GatewayDep) -> Response:
    return await gateway.info(request, name)


@router.get("/v2/snaps/find", summary="Search snaps")
async def find(request: Request, gateway: GatewayDep) -> Response:
    return await gateway.find(request)


@router.get("/v2/snaps/categories", summary="Snap categories (snapd 2.60+)")
async def categories(request: Request, gateway: GatewayDep) -> Response:
    return await gateway.catalog(request, "categories")


@router.get("/api/v1/snaps/sections", summary="Snap sections (hal+json)")
async def sections(request: Request, gateway: GatewayDep) -> Response:
    return await gateway.catalog(request, "sections")


@router.get("/api/v1/snaps/names", summary="The command catalog (hal+json)")
async def names(request: Request, gateway: GatewayDep) -> Response:
    return await gateway.catalog(request, "names")


@router.get("/client-setup.sh", response_class=PlainTextResponse, summary="Client setup script")
async def client_setup(request: Request, gateway: GatewayDep) -> PlainTextResponse:
    return PlainTextResponse(
        client_setup_script(gateway.base_url(request)), media_type="text/x-shellscript"
    )
