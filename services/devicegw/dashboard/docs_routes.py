"""``/docs/``: the documentation (``docs/*.md``), rendered to HTML, as the Snap Store Proxy
serves its own. Caller: public, no login: the documents are the ones published with the
source and hold no secret of this proxy (no setting, no figure). Served by devicegw, through
both gateways (``shared.routes``: ``/docs`` -> devicegw).

``/docs/`` lists the documents; ``/docs/NAME.md`` is one, as HTML (so the links between
documents, ``tls.md#anchor``, work as written); ``/docs/images/NAME.png`` and
``/docs/profiles/NAME.svg`` are the images they show. Anything else, an unknown document
or a path that tries to leave the directory, is a 404 page saying so.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from services.devicegw.dashboard.docs_render import DocsLibrary
from services.devicegw.dashboard.site import DashboardSite
from shared import __version__
from shared.deps import dependency

router = APIRouter(prefix="/docs", include_in_schema=False)
SiteDep = Annotated[DashboardSite, Depends(dependency(DashboardSite))]
LibraryDep = Annotated[DocsLibrary, Depends(dependency(DocsLibrary))]


@router.get("")
async def bare() -> Response:
    return RedirectResponse("/docs/", status_code=308)


@router.get("/")
async def index(site: SiteDep, library: LibraryDep) -> Response:
    docs = await asyncio.to_thread(library.index)
    return site.render("docs_index.html", docs=docs, version=__version__, page="docs")


@router.get("/{rest:path}")
async def document(rest: str, site: SiteDep, library: LibraryDep) -> Response:
    folder, _, name = rest.rpartition("/")
    if folder:
        asset = await asyncio.to_thread(library.asset, folder, name)
        if asset is not None:
            body, media_type = asset
            return Response(body, media_type=media_type, headers={"Cache-Control": "max-age=3600"})
    else:
        doc = await asyncio.to_thread(library.doc, name)
        if doc is not None:
            return site.render("doc.html", doc=doc, content=Markup(doc.html), page="docs")
    return site.render("docs_missing.html", 404, asked=rest[:200], page="docs")
