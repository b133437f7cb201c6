"""Download routes: the URLs devicegw hands out, and the cache admin API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.downloads.service import Downloads


def get_downloads(request: Request) -> Downloads:
    downloads: Downloads = request.app.state.downloads
    return downloads


DownloadsDep = Annotated[Downloads, Depends(get_downloads)]
router = APIRouter()


@router.api_route(
    "/api/v1/snaps/download/{filename}", methods=["GET", "HEAD"], summary="Download a snap"
)
async def download(filename: str, request: Request, downloads: DownloadsDep) -> Response:
    return await downloads.serve(request, filename)


@router.api_route("/download/{filename}", methods=["GET", "HEAD"], summary="Download a snap")
async def download_short(filename: str, request: Request, downloads: DownloadsDep) -> Response:
    return await downloads.serve(request, filename)
