"""What the upstream store says about a snap, for the overrides: its snap-id, which revision
each channel holds per architecture (``/v2/snaps/info``), and one revision's full answer
(a refresh action asking for exactly that revision, with every field snapd asks for)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shared.channels import channel_of_entry, fall_through
from shared.errors import NotFound, UpstreamError
from shared.upstream import Upstream
from shared.upstream_lookup import snap_action_request

# The storeSnap fields snapd 2.57 asks for in every refresh (store API reference, 3.1).
SNAPD_FIELDS = (
    "architectures", "base", "confinement", "contact", "created-at", "description",
    "download", "epoch", "license", "name", "prices", "private", "publisher", "revision",
    "snap-id", "snap-yaml", "summary", "title", "type", "version", "website", "store-url",
    "media", "common-ids",
)  # fmt: skip
INFO_FIELDS = "architectures,revision,version,download"
DEFAULT_ARCHITECTURE = "amd64"


def _headers(architecture: str | None) -> dict[str, str]:
    headers = {
        "Snap-Device-Series": "16",
        "User-Agent": "snapproxy (overrides)",
        "Accept": "application/json",
    }
    if architecture:
        headers["Snap-Device-Architecture"] = architecture
    return headers


@dataclass
class UpstreamSnap:
    """A snap as the upstream's channel map shows it."""

    snap_id: str
    name: str
    # (full channel name, architecture) -> revision
    releases: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def architectures(self) -> list[str]:
        return sorted({arch for _channel, arch in self.releases})

    def revision_in(self, channel: str, architecture: str) -> int | None:
        return self.releases.get((channel, architecture))

    def devices_get(self, channel: str, architecture: str) -> int | None:
        """What a device on ``channel`` gets: its revision, or, the channel being closed,
        the branch's risk's, then the track's more stable risks' (the Store's fall-through)."""
        for candidate in fall_through(channel):
            if (found := self.revision_in(candidate, architecture)) is not None:
                return found
        return None


def _channel_of(entry: dict[str, Any]) -> tuple[str, str] | None:
    channel = entry.get("channel")
    full = channel_of_entry(channel)
    arch = channel.get("architecture") if isinstance(channel, dict) else None
    if full is None or not isinstance(arch, str) or not arch:
        return None
    return full, arch


async def snap_info(upstream: Upstream, name: str) -> UpstreamSnap:
    """The snap's channel map; NotFound when the upstream does not know ``name``,
    UpstreamUnavailable (raised by ``upstream``) when it cannot be asked."""
    response = await upstream.request(
        "GET", f"/v2/snaps/info/{name}", headers=_headers(None), params=f"fields={INFO_FIELDS}"
    )
    if response.status_code == 404:
        raise NotFound(f"the upstream store has no snap named {name!r}", code="snap-not-found")
    if response.status_code != 200:
        raise UpstreamError(f"the upstream store answered HTTP {response.status_code}")
    try:
        document = response.json()
        snap = UpstreamSnap(snap_id=str(document["snap-id"]), name=str(document["name"]))
    except (ValueError, KeyError, TypeError):
        raise UpstreamError("the upstream store's info answer is not understood") from None
    for entry in document.get("channel-map") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("revision"), int):
            continue
        where = _channel_of(entry)
        if where is not None:
            snap.releases[where] = entry["revision"]
    return snap


async def revision_answer(
    upstream: Upstream, snap: UpstreamSnap, revision: int
) -> dict[str, Any] | None:
    """The upstream's storeSnap for ``revision`` (asked for on each architecture the snap is
    released for, until one has it), or None when the upstream has no such revision."""
    for architecture in snap.architectures or [DEFAULT_ARCHITECTURE]:
        action: dict[str, Any] = {"action": "download", "instance-key": "download-1"}
        action |= {"name": snap.name, "revision": revision, "epoch": None}
        body = snap_action_request([action], fields=SNAPD_FIELDS)
        response = await upstream.request(
            "POST",
            "/v2/snaps/refresh",
            headers={**_headers(architecture), "Content-Type": "application/json"},
            content=json.dumps(body).encode(),
        )
        if response.status_code != 200:
            raise UpstreamError(f"the upstream store answered HTTP {response.status_code}")
        try:
            results = response.json().get("results") or []
        except (ValueError, AttributeError):
            raise UpstreamError("the upstream store's refresh answer is not understood") from None
        for result in results:
            found = result.get("snap") if isinstance(result, dict) else None
            if isinstance(found, dict) and found.get("revision") == revision:
                if not found.get("architectures"):
                    found["architectures"] = [architecture]
                return found
    return None
