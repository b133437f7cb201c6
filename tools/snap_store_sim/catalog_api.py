"""Catalogue endpoints: snap info, find, sections, names, categories, cohorts.

Each sees ``Catalogue.visible(credentialed)``: without accepted store credentials a private
snap is absent (info 404s as for an unknown name, find, names and cohorts leave it out, and
its categories do not appear in sections unless a public snap has them). ``find`` with
``private=true`` lists only the private snaps the caller may see."""

from __future__ import annotations

import json
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .catalogue import Catalogue, Revision, Snap
from .channels import RISKS, Channel, ChannelError, parse_channel
from .httputil import architecture, base_url, credentialed, state_of
from .responses import HAL_JSON, json_response, store_error
from .storejson import channel_json, revision_level, select_fields, snap_level

FIND_FORBIDDEN = set('+=&|><!(){}[]^"~*?:\\/')
SECTIONS = ("featured", "development", "productivity", "science", "utilities")


def _fields(request: Request) -> list[str] | None:
    raw = request.query_params.get("fields")
    return [f for f in raw.split(",") if f] if raw else None


async def _built(request: Request, revs: list[Revision]) -> Catalogue | Response:
    """Wait for pending blobs of ``revs``; the fresh catalogue, or a 503."""
    state = state_of(request)
    pending = {rev.file for rev in revs if rev.pending}
    if not pending:
        return state.catalogue()
    try:
        return await state.wait_built(pending)
    except (TimeoutError, RuntimeError) as exc:
        return store_error(503, str(exc))


async def snap_info(request: Request) -> Response:
    name = request.path_params["name"]
    arch = architecture(request)
    snap = state_of(request).catalogue().visible(credentialed(request)).by_name(name)
    if snap is None:
        return store_error(
            404, f"No snap named '{name}' found in series '16'.", "resource-not-found"
        )
    releases = [item for item in snap.releases() if item[2].matches_arch(arch)]
    catalogue = await _built(request, [rev for _a, _c, rev in releases])
    if isinstance(catalogue, Response):
        return catalogue
    snap = catalogue.by_name(name) or snap
    fields, base = _fields(request), base_url(request)
    channel_map = []
    for rel_arch, channel, rev in snap.releases():
        if not rev.matches_arch(arch):
            continue
        entry = select_fields(revision_level(snap, rev, base), fields)
        entry["channel"] = channel_json(channel, arch or rel_arch, rev.released_at)
        channel_map.append(entry)
    top = select_fields(snap_level(snap, base), fields)
    top.update({"name": snap.name, "snap-id": snap.snap_id})
    return json_response(
        {"name": snap.name, "snap-id": snap.snap_id, "snap": top, "channel-map": channel_map}
    )


def _find_revision(snap: Snap, channel: Channel | None, arch: str | None) -> Revision | None:
    if channel is not None:
        found = snap.resolve(channel, arch)
        return found[0] if found else None
    for track in ["latest", *[t for t in snap.tracks() if t != "latest"]]:
        for risk in RISKS:
            rev = snap.in_channel(Channel(track, risk), arch)
            if rev is not None:
                return rev
    return None


def _matches(snap: Snap, q: str, name: str, category: str) -> bool:
    if name:
        if name.endswith("*") and not snap.name.startswith(name[:-1]):
            return False
        if not name.endswith("*") and snap.name != name:
            return False
    if category and category not in snap.categories:
        return False
    if q:
        text = " ".join((snap.name, snap.title, snap.summary, snap.description)).lower()
        return all(word in text for word in q.lower().split())
    return True


async def snap_find(request: Request) -> Response:
    params = request.query_params
    q, name, category = params.get("q", ""), params.get("name", ""), params.get("category", "")
    if FIND_FORBIDDEN & set(q):
        return store_error(400, "Invalid characters in search query.", "bad-query")
    arch = architecture(request)
    try:
        channel = parse_channel(params["channel"]) if params.get("channel") else None
    except ChannelError as exc:
        return store_error(400, str(exc), "invalid-request")
    only_private = params.get("private") == "true"
    visible = state_of(request).catalogue().visible(credentialed(request))
    matched: list[tuple[Snap, Revision]] = []
    for snap in sorted(visible.snaps.values(), key=lambda s: s.name):
        if only_private and not snap.private:
            continue
        rev = _find_revision(snap, channel, arch) if _matches(snap, q, name, category) else None
        if rev is not None:
            matched.append((snap, rev))
    catalogue = await _built(request, [rev for _s, rev in matched])
    if isinstance(catalogue, Response):
        return catalogue
    fields, base = _fields(request), base_url(request)
    results: list[dict[str, Any]] = []
    for snap, old in matched:
        fresh_snap = catalogue.by_name(snap.name) or snap
        rev = fresh_snap.revision(old.revision) or old
        revision = select_fields(revision_level(fresh_snap, rev, base), fields)
        revision.update({"revision": rev.revision, "channel": _short(rev, channel)})
        top = select_fields(snap_level(fresh_snap, base), fields)
        top.update({"name": snap.name, "snap-id": snap.snap_id})
        results.append(
            {"name": snap.name, "snap-id": snap.snap_id, "snap": top, "revision": revision}
        )
    return json_response({"results": results, "error-list": []})


def _short(rev: Revision, channel: Channel | None) -> str:
    if channel is not None:
        return channel.short
    return parse_channel(rev.channels[0]).short if rev.channels else "stable"


def _section_names(request: Request) -> list[str]:
    names = list(SECTIONS)
    for snap in state_of(request).catalogue().visible(credentialed(request)).snaps.values():
        names += [c for c in snap.categories if c not in names]
    return names


async def sections(request: Request) -> Response:
    items = [{"name": name} for name in _section_names(request)]
    return json_response({"_embedded": {"clickindex:sections": items}}, media_type=HAL_JSON)


async def categories(request: Request) -> Response:
    return json_response({"categories": [{"name": name} for name in _section_names(request)]})


async def names(request: Request) -> Response:
    packages = []
    visible = state_of(request).catalogue().visible(credentialed(request))
    for snap in sorted(visible.snaps.values(), key=lambda s: s.name):
        rev = _find_revision(snap, None, None)
        apps = [snap.name] if rev is not None and rev.type == "app" else []
        packages.append(
            {
                "package_name": snap.name,
                "version": rev.version if rev else "",
                "summary": snap.summary,
                "aliases": [],
                "apps": apps,
            }
        )
    return json_response({"_embedded": {"clickindex:package": packages}}, media_type=HAL_JSON)


async def cohorts(request: Request) -> Response:
    try:
        payload = json.loads(await request.body())
    except ValueError:
        payload = None
    snaps = payload.get("snaps") if isinstance(payload, dict) else None
    if not isinstance(snaps, list) or not all(isinstance(s, str) for s in snaps):
        return store_error(400, 'body must be {"snaps": [names]}', "invalid-request")
    catalogue = state_of(request).catalogue().visible(credentialed(request))
    keys = {name: "MSBz" + secrets.token_urlsafe(24) for name in snaps if catalogue.by_name(name)}
    if not keys:
        return store_error(404, "No snaps found.", "not-found")
    return json_response({"cohort-keys": keys})
