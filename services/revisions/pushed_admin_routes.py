"""``GET /v1/pushed-snaps``: the imported snaps (offline mode), as ``snap-proxy
list-pushed-snaps`` lists them, and the essentials airgap mode would miss, as ``snap-proxy
status`` warns of them. Caller: the admin (``Authorization: Bearer <admin token>``); the
dashboard's Offline page reads it. Read-only: importing and deleting stay with the CLI on
the proxy's host (``shared.offline.importer``: one transaction over three services' tables).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends

from services.revisions import pushed_summary
from shared.deps import SessionDep, SettingsDep, require_admin

router = APIRouter(dependencies=[Depends(require_admin)])


@router.get("/v1/pushed-snaps", summary="The imported snaps, and what airgap mode lacks (admin)")
async def pushed_snaps(session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """``snaps``: name, ``snap_id``, revisions, channels (``CHANNEL (ARCH): REVISION``),
    architectures and size in bytes of each imported snap; ``missing``: the bases imported
    snaps need and snapd, when not imported (``status`` warns of them in airgap mode);
    ``airgap``: whether ``proxy.airgap`` is on."""
    return {
        "snaps": [asdict(found) for found in await pushed_summary.summaries(session)],
        "missing": await pushed_summary.missing_essentials(session),
        "airgap": settings.airgap,
    }
