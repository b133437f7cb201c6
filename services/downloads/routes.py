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


@router.get("/api/v1/snaps/download/{filename}", summary="Download a snap")
@router.head("/api/v1/snaps/download/{filename}", summary="A snap download's headers")
async def download(filename: str, request: Request, downloads: DownloadsDep) -> Response:
    return await downloads.serve(request, filename)


@router.get("/download/{filename}", summary="Download a snap")
@router.head("/download/{filename}", summary="A snap download's headers")
async def download_short(filename: str, request: Request, downloads: DownloadsDep) -> Response:
    return await downloads.serve(request, filename)
