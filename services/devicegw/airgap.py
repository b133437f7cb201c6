"""The device API in airgap mode: answers from imported snaps only, never the upstream.

Info and find give what the online proxy gave when the snap was exported (docs/offline.md),
narrowed to the channels and revisions still imported, to the device's architecture and to
the fields asked for, with download URLs on this proxy. Whatever was not imported gets the
Store's own not-found shape at once.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from services.devicegw.refresh import offline_queries
from services.devicegw.relay import CACHE_HEADER, Answer, DeviceRequest
from services.devicegw.rewrite import rewrite_snap
from shared.channels import normalize_channel
from shared.device import device_architecture
from shared.errors import BadRequest, NotFound
from shared.pushed_api import PushedClient, PushedSnapOut
from shared.revisions_api import Observation, ResolveQuery

JSON = "application/json"
HAL_JSON = "application/hal+json"
FIND_FORBIDDEN = set('+=&|><!(){}[]^"~*?:\\/')
AIRGAP = {CACHE_HEADER: "airgap"}


def _json(document: Any, media_type: str = JSON, status: int = 200) -> Answer:
    body = json.dumps(document, separators=(",", ":")).encode()
    return Answer(status, media_type, dict(AIRGAP), body)


def _params(request: DeviceRequest) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(request.query, keep_blank_values=True).items()}


def _fields(params: dict[str, str]) -> set[str] | None:
    raw = params.get("fields")
    return {f for f in raw.split(",") if f} if raw else None


def _select(value: Any, fields: set[str] | None, *always: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    if fields is None:
        return dict(value)
    return {k: v for k, v in value.items() if k in fields or k in always}


def _held(snap: PushedSnapOut, architecture: str | None) -> dict[tuple[str, str], int]:
    return {
        (c.architecture, c.channel): c.revision
        for c in snap.channels
        if architecture is None or c.architecture == architecture
    }


def _with_download(entry: dict[str, Any], snap: PushedSnapOut, base_url: str) -> None:
    download = entry.get("download")
    if isinstance(download, dict):
        entry["download"] = dict(download)
        rewrite_snap(entry, base_url, Observation(), name=snap.name, snap_id=snap.snap_id)


def not_found(name: str) -> NotFound:
    return NotFound(f"No snap named '{name}' found in series '16'.", code="resource-not-found")


class AirgapAnswers:
    """Info, find, sections, names and refresh from the imported snaps."""

    def __init__(self, pushed: PushedClient) -> None:
        self.pushed = pushed

    async def info(self, name: str, request: DeviceRequest) -> Answer:
        snap = await self.pushed.snap(name)
        if snap is None:
            raise not_found(name)
        params = _params(request)
        architecture = params.get("architecture") or device_architecture(request.headers)
        fields = _fields(params)
        held = _held(snap, architecture)
        channel_map = []
        for entry in snap.info.get("channel-map") or []:
            channel = entry.get("channel") if isinstance(entry, dict) else None
            if not isinstance(channel, dict):
                continue
            where = (
                str(channel.get("architecture")),
                f"{channel.get('track')}/{channel.get('risk')}",
            )
            if held.get(where) != entry.get("revision"):
                continue
            shown = _select(entry, fields, "channel")
            _with_download(shown, snap, request.base_url)
            channel_map.append(shown)
        top = _select(snap.info.get("snap"), fields)
        top.update({"name": snap.name, "snap-id": snap.snap_id})
        document = {
            "name": snap.name,
            "snap-id": snap.snap_id,
            "snap": top,
            "channel-map": channel_map,
        }
        return _json(document)

    async def find(self, request: DeviceRequest) -> Answer:
        params = _params(request)
        q, name = params.get("q", ""), params.get("name", "")
        if FIND_FORBIDDEN & set(q):
            raise BadRequest("Invalid characters in search query.", code="bad-query")
        architecture = params.get("architecture") or device_architecture(request.headers)
        fields = _fields(params)
        results = []
        for snap in await self.pushed.snaps():
            found = snap.find
            if found is None or not _held(snap, architecture) or params.get("private") == "true":
                continue
            if not _matches(found, q, name, params.get("category", "")):
                continue
            top = _select(found.get("snap"), fields)
            top.update({"name": snap.name, "snap-id": snap.snap_id})
            revision = _select(found.get("revision"), fields, "revision", "channel")
            _with_download(revision, snap, request.base_url)
            results.append(
                {"name": snap.name, "snap-id": snap.snap_id, "snap": top, "revision": revision}
            )
        return _json({"results": results, "error-list": []})

    async def catalog(self, kind: str, request: DeviceRequest) -> Answer:
        snaps = await self.pushed.snaps()
        if kind == "names":
            packages = [_package(snap) for snap in snaps]
            return _json({"_embedded": {"clickindex:package": packages}}, HAL_JSON)
        names: list[str] = []
        for snap in snaps:
            for category in _categories(snap.find):
                if category not in names:
                    names.append(category)
        items = [{"name": name} for name in names]
        if kind == "categories":
            return _json({"categories": items})
        return _json({"_embedded": {"clickindex:sections": items}}, HAL_JSON)

    async def refresh(
        self, document: dict[str, Any], architecture: str, request: DeviceRequest
    ) -> Answer:
        pairs = offline_queries(document, architecture)
        known = await self.pushed.resolve([query for _, query in pairs])
        snaps = {snap.name: snap for snap in await self.pushed.snaps()} if pairs else {}
        by_id = {snap.snap_id: snap for snap in snaps.values()}
        results = []
        for (action, query), revision in zip(pairs, known, strict=True):
            if revision is None:
                results.append(_action_error(action, query, snaps, by_id))
                continue
            snap = dict(revision.snap)
            snap["download"] = dict(snap.get("download") or {})
            rewrite_snap(
                snap, request.base_url, Observation(), name=revision.name, snap_id=revision.snap_id
            )
            results.append(
                {
                    "result": action["action"],
                    "instance-key": action["instance-key"],
                    "snap-id": revision.snap_id,
                    "name": revision.name,
                    "effective-channel": normalize_channel(query.channel or "stable"),
                    "redirect-channel": "",
                    "snap": snap,
                }
            )
        return _json({"results": results, "error-list": []})


def _matches(found: dict[str, Any], q: str, name: str, category: str) -> bool:
    snap = found.get("snap") if isinstance(found.get("snap"), dict) else {}
    assert isinstance(snap, dict)
    snap_name = str(found.get("name") or "")
    if name:
        if name.endswith("*") and not snap_name.startswith(name[:-1]):
            return False
        if not name.endswith("*") and snap_name != name:
            return False
    if category and category not in _categories(found):
        return False
    if q:
        parts = (snap_name, snap.get("title"), snap.get("summary"), snap.get("description"))
        text = " ".join(str(p) for p in parts if p).lower()
        return all(word in text for word in q.lower().split())
    return True


def _categories(found: dict[str, Any] | None) -> list[str]:
    snap = (found or {}).get("snap")
    listed = snap.get("categories") if isinstance(snap, dict) else None
    names = []
    for item in listed if isinstance(listed, list) else []:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str):
            names.append(name)
    return names


def _package(snap: PushedSnapOut) -> dict[str, Any]:
    found = snap.find or {}
    top = found.get("snap") if isinstance(found.get("snap"), dict) else {}
    revision = found.get("revision") if isinstance(found.get("revision"), dict) else {}
    assert isinstance(top, dict) and isinstance(revision, dict)
    kind = revision.get("type") or top.get("type") or "app"
    return {
        "package_name": snap.name,
        "version": str(revision.get("version") or ""),
        "summary": str(top.get("summary") or ""),
        "aliases": [],
        "apps": [snap.name] if kind == "app" else [],
    }


def _action_error(
    action: dict[str, Any],
    query: ResolveQuery,
    snaps: dict[str, PushedSnapOut],
    by_id: dict[str, PushedSnapOut],
) -> dict[str, Any]:
    """The Store's error result for an action nothing imported answers."""
    if query.snap_id:
        snap = by_id.get(query.snap_id)
        code, message = "id-not-found", f"No snap with id '{query.snap_id}' found."
    else:
        snap = snaps.get(query.name or "")
        code, message = "name-not-found", f"No snap named '{query.name}' found in series '16'."
    error: dict[str, Any] = {"code": code, "message": message}
    if snap is not None:
        if query.revision is not None:
            what = f"No revision {query.revision} of '{snap.name}'"
        else:
            channel = normalize_channel(query.channel or "stable")
            what = f"No revision of '{snap.name}' in channel '{channel}'"
        error = {
            "code": "revision-not-found",
            "message": f"{what} for architecture '{query.architecture}'.",
            "extra": {
                "releases": [
                    {"architecture": c.architecture, "channel": c.channel} for c in snap.channels
                ]
            },
        }
    return {
        "result": "error",
        "instance-key": action.get("instance-key"),
        "name": snap.name if snap else action.get("name"),
        "snap-id": snap.snap_id if snap else action.get("snap-id"),
        "error": error,
    }
