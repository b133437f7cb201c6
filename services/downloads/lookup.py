"""Which blob a download URL names: from the revisions service, else asked upstream."""

from __future__ import annotations

import json
import re

import structlog
from fastapi import Request

from shared.errors import NotFound
from shared.revisions_api import Observation, RevisionIn, RevisionOut, RevisionsClient
from shared.upstream import Upstream

log = structlog.get_logger(__name__)

BLOB_NAME = re.compile(r"^(?P<snap_id>[A-Za-z0-9]{1,64})_(?P<revision>[1-9][0-9]{0,9})\.snap$")


def parse_blob_name(filename: str) -> tuple[str, int]:
    """``<snap-id>_<revision>.snap`` -> (snap-id, revision); NotFound for anything else."""
    match = BLOB_NAME.match(filename)
    if match is None:
        raise NotFound(f"no snap file named {filename[:100]!r}")
    return match["snap_id"], int(match["revision"])


def _architecture(request: Request) -> str:
    return (
        request.headers.get("x-ubuntu-architecture")
        or request.headers.get("snap-device-architecture")
        or "amd64"
    )


async def ask_upstream(
    upstream: Upstream, request: Request, snap_id: str, revision: int
) -> RevisionIn | None:
    """Look a revision up with a refresh action, for downloads that arrive before any refresh."""
    body = {
        "context": [
            {
                "snap-id": snap_id,
                "instance-key": snap_id,
                "revision": revision,
                "tracking-channel": "stable",
                "epoch": {"read": [0], "write": [0]},
            }
        ],
        "actions": [
            {"action": "refresh", "instance-key": snap_id, "snap-id": snap_id, "revision": revision}
        ],
        "fields": ["architectures", "download", "name", "revision", "snap-id", "version", "type"],
    }
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Snap-Device-Architecture": _architecture(request),
        "Snap-Device-Series": "16",
        "User-Agent": request.headers.get("user-agent", "snapproxy"),
    }
    response = await upstream.request(
        "POST", "/v2/snaps/refresh", headers=headers, content=json.dumps(body).encode()
    )
    if response.status_code != 200:
        return None
    try:
        results = response.json().get("results") or []
    except (ValueError, AttributeError):
        return None
    for result in results:
        snap = result.get("snap") if isinstance(result, dict) else None
        if not isinstance(snap, dict) or snap.get("revision") != revision:
            continue
        download = snap.get("download") or {}
        try:
            return RevisionIn(
                snap_id=snap_id,
                name=snap.get("name") or result.get("name") or snap_id,
                revision=revision,
                architectures=snap.get("architectures") or [],
                sha3_384=download.get("sha3-384", ""),
                size=download.get("size", -1),
                upstream_url=download.get("url", ""),
                snap=snap,
            )
        except ValueError:
            log.warning("downloads.bad_upstream_revision", snap_id=snap_id, revision=revision)
    return None


async def find_revision(
    revisions: RevisionsClient, upstream: Upstream, request: Request, snap_id: str, revision: int
) -> RevisionOut:
    """The recorded revision, or the upstream's answer (then recorded), or NotFound."""
    known = await revisions.get(snap_id, revision)
    if known is not None:
        return known
    found = await ask_upstream(upstream, request, snap_id, revision)
    if found is None:
        raise NotFound(f"revision {revision} of snap {snap_id} is not known upstream")
    await revisions.record(Observation(revisions=[found]))
    return RevisionOut(**found.model_dump())
