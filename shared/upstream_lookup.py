"""Asking the upstream store about one snap revision, the way snapd asks: a refresh action.

Used for downloads that arrive before any refresh revealed their revision (the downloads
service) and wherever else one revision's store answer is needed. Every snap action request
snapproxy makes itself (here, and ``snap-proxy cache prefetch``) is built by
:func:`snap_action_request`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from shared.revisions_api import RevisionIn
from shared.upstream import Upstream

log = structlog.get_logger(__name__)

LOOKUP_FIELDS = ("architectures", "download", "name", "revision", "snap-id", "version", "type")


def snap_action_request(
    actions: Iterable[dict[str, Any]],
    *,
    fields: Iterable[str],
    context: Iterable[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The body of ``POST /v2/snaps/refresh``: what is installed, what to do, what to tell."""
    return {"context": list(context), "actions": list(actions), "fields": list(fields)}


def channel_download_request(name: str, channel: str) -> dict[str, Any]:
    """The body a device sends to download ``name`` from ``channel`` (the revision it gets
    and its download), as ``snap download`` asks."""
    action = {
        "action": "download",
        "instance-key": "download-1",
        "name": name,
        "channel": channel,
        "epoch": None,
    }
    return snap_action_request([action], fields=("download", "revision"))


def revision_refresh_body(snap_id: str, revision: int) -> dict[str, Any]:
    """A refresh action that asks for exactly ``revision`` of ``snap_id``."""
    installed = {
        "snap-id": snap_id,
        "instance-key": snap_id,
        "revision": revision,
        "tracking-channel": "stable",
        "epoch": {"read": [0], "write": [0]},
    }
    action = {
        "action": "refresh",
        "instance-key": snap_id,
        "snap-id": snap_id,
        "revision": revision,
    }
    return snap_action_request([action], fields=LOOKUP_FIELDS, context=[installed])


async def lookup_revision(
    upstream: Upstream,
    snap_id: str,
    revision: int,
    headers: Mapping[str, str],
    *,
    private: bool = False,
) -> RevisionIn | None:
    """The upstream's answer for one revision, or None when it does not give it to a request
    with these ``headers`` (device headers, plus store credentials when ``private``)."""
    request_headers = {
        "Snap-Device-Series": "16",
        "User-Agent": "snapproxy",
        **headers,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    body = json.dumps(revision_refresh_body(snap_id, revision)).encode()
    response = await upstream.request(
        "POST", "/v2/snaps/refresh", headers=request_headers, content=body
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
                private=private,
            )
        except ValueError:
            log.warning("upstream.bad_revision_answer", snap_id=snap_id, revision=revision)
    return None
