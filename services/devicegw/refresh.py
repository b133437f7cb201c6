"""``POST /v2/snaps/refresh``: validate, relay, rewrite, record; answer known snaps offline."""

from __future__ import annotations

import json
from typing import Any

import structlog

from services.devicegw.rewrite import note_channel, rewrite_snap, rewrite_stream_url
from services.devicegw.schemas import SnapActionRequest
from shared.channels import normalize_channel
from shared.errors import BadRequest, UpstreamUnavailable
from shared.openapi import check_document
from shared.revisions_api import Observation, ResolveQuery, RevisionOut

log = structlog.get_logger(__name__)


def _is_unicode(document: Any) -> bool:
    """No string in ``document`` (keys included) holds a lone surrogate: JSON's ``\\ud800``
    escapes decode to one, and the body would be relayed to the upstream as it is."""
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    except RecursionError:
        raise BadRequest("request body is nested too deeply") from None
    return True


def parse_refresh_request(body: bytes) -> dict[str, Any]:
    """The decoded request (a :class:`SnapActionRequest`), or BadRequest saying what is
    wrong with it. The document is returned as decoded: the body goes upstream as it is."""
    try:
        document = json.loads(body.decode("utf-8"))  # UnicodeDecodeError is a ValueError
    except (ValueError, RecursionError):
        raise BadRequest("request body is not valid JSON in UTF-8") from None
    if not isinstance(document, dict):
        raise BadRequest("request body must be a JSON object")
    if not _is_unicode(document):
        raise BadRequest("request body has an unpaired surrogate escape (\\ud800)")
    check_document(SnapActionRequest, document)
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
        if revision is None or not revision.snap or revision.private:
            # A private revision is given only to requesters the upstream accepts, and the
            # upstream is away: it cannot be offered.
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
