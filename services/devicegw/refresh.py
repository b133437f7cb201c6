"""``POST /v2/snaps/refresh``: validate, relay, rewrite, record; answer known snaps offline."""

from __future__ import annotations

import json
import re
from typing import Any

import structlog

from services.devicegw.rewrite import note_channel, rewrite_snap, rewrite_stream_url
from shared.channels import normalize_channel
from shared.errors import BadRequest, UpstreamUnavailable
from shared.revisions_api import Observation, ResolveQuery, RevisionOut

log = structlog.get_logger(__name__)

ACTIONS = ("install", "download", "refresh", "fetch-assertions")
# A snap name as snapd validates it before sending (lowercase, digits, single hyphens).
SNAP_NAME = re.compile(r"^[a-z0-9](?:-?[a-z0-9]){0,39}$")
# Revisions are stored as 32-bit integers; larger numbers name no revision.
MAX_REVISION = 2**31 - 1


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise BadRequest(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_revision(value: Any) -> bool:
    return _is_int(value) and 0 < value <= MAX_REVISION


def parse_refresh_request(body: bytes) -> dict[str, Any]:
    """The decoded request, or BadRequest saying what is wrong with it."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise BadRequest("request body must be a JSON object")
    context = document.get("context", [])
    actions = document.get("actions")
    if not isinstance(context, list) or not isinstance(actions, list):
        raise BadRequest("context and actions must be lists")
    for item in context:
        _require(isinstance(item, dict), "each context entry must be an object")
        _require(isinstance(item.get("snap-id"), str), "context entries need a snap-id")
        _require(isinstance(item.get("instance-key"), str), "context entries need an instance-key")
        revision = item.get("revision")
        _require(
            _is_int(revision) and abs(revision) <= MAX_REVISION,
            "context revision must be a revision number",
        )
        tracking = item.get("tracking-channel")
        _require(tracking is None or isinstance(tracking, str), "tracking-channel must be a string")
    for action in actions:
        _require(isinstance(action, dict), "each action must be an object")
        kind = action.get("action")
        _require(kind in ACTIONS, f"unknown action {kind!r}; expected one of {', '.join(ACTIONS)}")
        if kind == "fetch-assertions":
            _require(isinstance(action.get("key"), str), "fetch-assertions needs a key")
            _require(isinstance(action.get("assertions", []), list), "assertions must be a list")
            continue
        _require(isinstance(action.get("instance-key"), str), f"{kind} needs an instance-key")
        if kind == "refresh":
            _require(isinstance(action.get("snap-id"), str), "refresh needs a snap-id")
        else:
            _require(isinstance(action.get("name"), str), f"{kind} needs a name")
            _require(bool(SNAP_NAME.match(action["name"])), f"{kind} has an invalid snap name")
        for field, valid in (
            ("channel", _is_str),
            ("revision", _is_revision),
            ("cohort-key", _is_str),
        ):
            if action.get(field) is not None:
                _require(valid(action[field]), f"{kind} has an invalid {field}")
    fields = document.get("fields", [])
    _require(
        isinstance(fields, list) and all(isinstance(f, str) for f in fields),
        "fields must be a list of strings",
    )
    return document


def rewrite_refresh_answer(
    answer: dict[str, Any], request: dict[str, Any], base_url: str, architecture: str
) -> Observation:
    """Point downloads and assertion streams at the proxy; note revisions and channels."""
    observation = Observation()
    requested = {
        a.get("instance-key"): a for a in request.get("actions", []) if isinstance(a, dict)
    }
    tracking = {
        c.get("instance-key"): c.get("tracking-channel") for c in request.get("context", [])
    }
    for result in answer.get("results") or []:
        if not isinstance(result, dict):
            continue
        snap = result.get("snap")
        rewrite_snap(
            snap, base_url, observation, name=result.get("name"), snap_id=result.get("snap-id")
        )
        if isinstance(snap, dict):
            snap.setdefault("snap-id", result.get("snap-id"))
            snap.setdefault("name", result.get("name"))
            channels = {result.get("effective-channel")}
            action = requested.get(result.get("instance-key"), {})
            if action.get("revision") is None:
                channels.add(action.get("channel") or tracking.get(result.get("instance-key")))
            for channel in channels:
                if isinstance(channel, str) and channel:
                    note_channel(observation, snap, architecture, normalize_channel(channel))
        urls = result.get("assertion-stream-urls")
        if isinstance(urls, list):
            result["assertion-stream-urls"] = [
                rewrite_stream_url(u, base_url) if isinstance(u, str) else u for u in urls
            ]
    return observation


def offline_queries(
    request: dict[str, Any], architecture: str
) -> list[tuple[dict[str, Any], ResolveQuery]]:
    """What to look up in the recorded revisions to answer each action without upstream."""
    context = {c["instance-key"]: c for c in request.get("context", [])}
    queries = []
    for action in request.get("actions", []):
        kind = action.get("action")
        if kind == "fetch-assertions":
            continue
        channel = action.get("channel")
        if kind == "refresh":
            channel = channel or context.get(action["instance-key"], {}).get("tracking-channel")
            query = ResolveQuery(
                snap_id=action["snap-id"],
                architecture=architecture,
                channel=channel,
                revision=action.get("revision"),
            )
        else:
            query = ResolveQuery(
                name=action["name"],
                architecture=architecture,
                channel=channel,
                revision=action.get("revision"),
            )
        queries.append((action, query))
    return queries


def offline_answer(
    pairs: list[tuple[dict[str, Any], ResolveQuery]],
    known: list[RevisionOut | None],
    base_url: str,
) -> dict[str, Any]:
    """A refresh answer from recorded revisions; UpstreamUnavailable if none is known."""
    results = []
    missing = []
    for (action, query), revision in zip(pairs, known, strict=True):
        if revision is None or not revision.snap:
            missing.append(action.get("name") or action.get("snap-id"))
            continue
        snap = dict(revision.snap)
        snap["download"] = dict(snap.get("download") or {})
        rewrite_snap(snap, base_url, Observation(), name=revision.name, snap_id=revision.snap_id)
        results.append(
            {
                "result": action["action"],
                "instance-key": action["instance-key"],
                "snap-id": revision.snap_id,
                "name": revision.name,
                "effective-channel": normalize_channel(query.channel or "stable"),
                "snap": snap,
            }
        )
    if not results:
        names = ", ".join(str(m) for m in missing) or "nothing asked"
        raise UpstreamUnavailable(
            f"the upstream store is unreachable and snapproxy has not seen {names} before"
        )
    if missing:
        log.info("refresh.offline_partial", missing=missing)
    return {"results": results, "error-list": []}
