"""``POST /v2/snaps/refresh``: install, download, refresh and fetch-assertions.

Without accepted store credentials a private snap does not exist here: installing or
downloading it by name gives ``name-not-found``, refreshing it by snap-id ``id-not-found``,
exactly as for an unknown snap. Its assertions are still fetched for anyone (like the Store)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .actions import Action, AssertionRef, RefreshRequest, RequestError, parse_refresh
from .assertstore import SEQUENCE_TYPES, AssertStore
from .catalogue import Catalogue, Revision, Snap
from .channels import parse_channel
from .httputil import architecture, base_url, credentialed, state_of
from .responses import invalid_request, json_response, store_error
from .storejson import releases_json, store_snap

Result = dict[str, Any]
DEFAULT_CHANNEL = parse_channel("latest/stable")


def _error(
    action: Action, code: str, message: str, snap: Snap | None = None, **extra: Any
) -> Result:
    error: dict[str, Any] = {"code": code, "message": message}
    if extra:
        error["extra"] = extra
    return {
        "result": "error",
        "instance-key": action.instance_key,
        "name": snap.name if snap else action.name,
        "snap-id": snap.snap_id if snap else action.snap_id,
        "error": error,
    }


def select(
    catalogue: Catalogue, request: RefreshRequest, action: Action, arch: str
) -> tuple[Snap, Revision, str] | Result:
    """The snap revision an install/download/refresh action gets, or an error result."""
    channel = action.channel
    if action.action == "refresh":
        ctx = request.context.get(action.instance_key)
        if ctx is None:
            return _error(
                action,
                "invalid-instance-key",
                f"No context entry for instance-key '{action.instance_key}'.",
            )
        snap = catalogue.by_id(action.snap_id)
        if snap is None:
            return _error(action, "id-not-found", f"No snap with id '{action.snap_id}' found.")
        channel = channel or ctx.tracking_channel
    else:
        found = catalogue.by_name(action.name)
        if found is None:
            return _error(
                action, "name-not-found", f"No snap named '{action.name}' found in series '16'."
            )
        snap = found
    if action.revision is not None:
        rev = snap.revision(action.revision)
        if rev is None or not rev.matches_arch(arch):
            return _error(
                action,
                "revision-not-found",
                f"No revision {action.revision} of '{snap.name}' for architecture '{arch}'.",
                snap,
                releases=releases_json(snap),
            )
        effective = channel.full if channel else (rev.channels[0] if rev.channels else "")
        return snap, rev, effective
    channel = channel or DEFAULT_CHANNEL
    resolved = snap.resolve(channel, arch)
    if resolved is None:
        return _error(
            action,
            "revision-not-found",
            f"No revision of '{snap.name}' in channel '{channel.full}' for architecture '{arch}'.",
            snap,
            releases=releases_json(snap),
        )
    rev, found_in = resolved
    return snap, rev, found_in.full


def fetch_assertions(
    store: AssertStore, action: Action, max_formats: dict[str, int] | None, base: str
) -> Result:
    urls: list[str] = []
    errors: list[dict[str, Any]] = []
    for ref in action.assertions:
        limit = None if max_formats is None else max_formats.get(ref.type, 0)
        found = _lookup(store, ref, limit)
        if found is None:
            key_name = "sequence-key" if ref.sequence_key else "primary-key"
            errors.append(
                {
                    "code": "not-found",
                    "message": f"{ref.type} {'/'.join(ref.key)} not found",
                    "type": ref.type,
                    key_name: ref.key,
                }
            )
            continue
        if ref.if_newer_than is not None and found.revision <= ref.if_newer_than:
            continue
        path = "/".join(found.reduced_primary_key)
        urls.append(f"{base}/v2/assertions/{found.type}/{path}?prerequisites=true")
    return {
        "result": "fetch-assertions",
        "key": action.key,
        "assertion-stream-urls": urls,
        "error-list": errors,
    }


def _lookup(store: AssertStore, ref: AssertionRef, limit: int | None) -> Any:
    if not ref.sequence_key:
        return store.get(ref.type, ref.key, limit)
    if ref.type not in SEQUENCE_TYPES:
        return None
    if ref.sequence is not None:
        return store.get_sequence(ref.type, ref.key, str(ref.sequence), limit)
    found = store.get_sequence(ref.type, ref.key, "latest", limit)
    if found is not None and ref.if_sequence_at_least is not None:
        sequence = found.headers.get("sequence")
        if not isinstance(sequence, str) or int(sequence) < ref.if_sequence_at_least:
            return None
    return found


async def snap_refresh(request: Request) -> Response:
    state = state_of(request)
    try:
        payload = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return invalid_request("request body is not valid JSON")
    try:
        parsed = parse_refresh(payload)
    except RequestError as exc:
        return invalid_request(str(exc))
    arch = architecture(request) or "amd64"
    base = base_url(request)
    allowed = credentialed(request)
    catalogue = state.catalogue().visible(allowed)
    for action in parsed.actions:
        state.stats.actions[action.action] += 1
    while True:
        picks = [
            select(catalogue, parsed, action, arch)
            for action in parsed.actions
            if action.action != "fetch-assertions"
        ]
        pending = {p[1].file for p in picks if isinstance(p, tuple) and p[1].pending}
        if not pending:
            break
        try:
            catalogue = (await state.wait_built(pending)).visible(allowed)
        except (TimeoutError, RuntimeError) as exc:
            return store_error(503, str(exc))
    results: list[Result] = []
    snap_actions = iter(picks)
    for action in parsed.actions:
        if action.action == "fetch-assertions":
            results.append(fetch_assertions(state.asserts, action, parsed.max_formats, base))
            continue
        pick = next(snap_actions)
        if not isinstance(pick, tuple):
            results.append(pick)
            continue
        snap, rev, effective = pick
        results.append(
            {
                "result": action.action,
                "instance-key": action.instance_key,
                "snap-id": snap.snap_id,
                "name": snap.name,
                "effective-channel": effective,
                "released-at": rev.released_at,
                "snap": store_snap(snap, rev, base, parsed.fields),
            }
        )
    return json_response({"results": results, "error-list": []})
