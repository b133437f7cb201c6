"""Point every download URL at the proxy, and note the revisions an answer reveals."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from shared.revisions_api import ChannelIn, Observation, RevisionIn

# Matched whole (fullmatch): ``$`` would let a trailing newline through.
_SHA3_HEX = re.compile(r"[0-9a-fA-F]{96}")
_SNAP_ID = re.compile(r"[A-Za-z0-9]{1,64}")


def download_path(snap_id: str, revision: int) -> str:
    return f"/api/v1/snaps/download/{snap_id}_{revision}.snap"


def rewrite_snap(
    snap: Any,
    base_url: str,
    observation: Observation,
    *,
    name: str | None = None,
    snap_id: str | None = None,
) -> None:
    """Rewrite ``snap["download"]`` in place and record the revision it describes."""
    if not isinstance(snap, dict):
        return
    download = snap.get("download")
    if not isinstance(download, dict):
        return
    sid = snap.get("snap-id") or snap_id
    revision = snap.get("revision")
    snap_name = snap.get("name") or name
    url = download.get("url")
    if not (isinstance(sid, str) and _SNAP_ID.fullmatch(sid)):
        return
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
        return
    if isinstance(url, str) and url:
        sha3 = download.get("sha3-384")
        size = download.get("size")
        if isinstance(sha3, str) and _SHA3_HEX.fullmatch(sha3) and isinstance(size, int):
            architectures = snap.get("architectures")
            observation.revisions.append(
                RevisionIn(
                    snap_id=sid,
                    name=snap_name if isinstance(snap_name, str) and snap_name else sid,
                    revision=revision,
                    architectures=[a for a in architectures or [] if isinstance(a, str)],
                    sha3_384=sha3,
                    size=size,
                    upstream_url=url,
                    snap={**snap, "download": dict(download)},  # before the rewrite below
                )
            )
        download["url"] = base_url + download_path(sid, revision)
    # Deltas are never handed out: every URL a device gets must point at the proxy, and a
    # device without a delta simply downloads the full (cached) snap.
    if "deltas" in download:
        download["deltas"] = []


def note_channel(
    observation: Observation, snap: Any, architecture: str, channel: str, name: str | None = None
) -> None:
    if not isinstance(snap, dict) or not channel or not architecture:
        return
    sid, revision = snap.get("snap-id"), snap.get("revision")
    snap_name = snap.get("name") or name
    if (
        isinstance(sid, str)
        and _SNAP_ID.fullmatch(sid)
        and isinstance(revision, int)
        and revision > 0
    ):
        observation.channels.append(
            ChannelIn(
                snap_id=sid,
                name=snap_name if isinstance(snap_name, str) and snap_name else sid,
                architecture=architecture[:32],
                channel=channel[:128],
                revision=revision,
            )
        )


def rewrite_info(answer: dict[str, Any], base_url: str, observation: Observation) -> None:
    """``/v2/snaps/info``: every channel-map entry carries a download."""
    name, snap_id = answer.get("name"), answer.get("snap-id")
    for entry in answer.get("channel-map") or []:
        if not isinstance(entry, dict):
            continue
        entry.setdefault("snap-id", snap_id)
        rewrite_snap(entry, base_url, observation, name=name, snap_id=snap_id)
        channel = entry.get("channel")
        if isinstance(channel, dict):
            track, risk = channel.get("track"), channel.get("risk")
            arch = channel.get("architecture")
            if isinstance(track, str) and isinstance(risk, str) and isinstance(arch, str):
                note_channel(observation, {**entry, "name": name}, arch, f"{track}/{risk}")
    rewrite_snap(answer.get("snap"), base_url, observation, name=name, snap_id=snap_id)


def rewrite_find(answer: dict[str, Any], base_url: str, observation: Observation) -> None:
    for result in answer.get("results") or []:
        if isinstance(result, dict):
            for part in ("snap", "revision"):
                rewrite_snap(
                    result.get(part),
                    base_url,
                    observation,
                    name=result.get("name"),
                    snap_id=result.get("snap-id"),
                )


def rewrite_stream_url(url: str, base_url: str) -> str:
    """An upstream assertion stream URL, same path and query, on the proxy."""
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{base_url}{parts.path}{query}"
