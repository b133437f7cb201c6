"""Assertions, device-session auth, download redirects and the root endpoint.

Sessions are macaroons the simulator can recognise later (``access.issue_session``). The
download URL of a private snap's blob answers like an unknown blob (404) without accepted
store credentials; with them it redirects to the CDN with a grant (``access.grant_query``)."""

from __future__ import annotations

import json
import re
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from shared.assertions import PRIMARY_KEYS, encode_stream

from .access import grant_query, issue_session
from .assertstore import SEQUENCE_TYPES
from .httputil import base_url, credentialed, host_of, state_of
from .responses import ASSERTION, PROBLEM_JSON, invalid_request, json_response, store_error

BLOB_NAME = re.compile(r"^(?P<snap_id>[A-Za-z0-9]+)_(?P<revision>[0-9]+)\.snap$")


def _not_found(message: str) -> Response:
    return store_error(404, message, "not-found", media_type=PROBLEM_JSON)


async def assertion(request: Request) -> Response:
    state = state_of(request)
    type_ = request.path_params["type"]
    parts = request.path_params["key"].split("/")
    raw_max = request.query_params.get("max-format")
    max_format: int | None = None
    if raw_max is not None:
        if not re.fullmatch(r"-?[0-9]+", raw_max):
            return store_error(400, "max-format must be an integer", "invalid-request")
        max_format = None if int(raw_max) < 0 else int(raw_max)
    names = PRIMARY_KEYS.get(type_)
    if names is None:
        return _not_found(f"unknown assertion type {type_!r}")
    state.stats.assertions[type_] += 1
    if type_ in SEQUENCE_TYPES and len(parts) == len(names) - 1:
        sequence = request.query_params.get("sequence", "latest")
        found = state.asserts.get_sequence(type_, parts, sequence, max_format)
    else:
        found = state.asserts.get(type_, parts, max_format)
    if found is None:
        return _not_found(f"{type_} assertion {'/'.join(parts)} not found")
    if request.query_params.get("prerequisites") in ("1", "true"):
        body = encode_stream([*state.asserts.prerequisites(found), found])
    else:
        body = found.raw
    return Response(body, media_type=ASSERTION)


async def nonces(request: Request) -> Response:
    return json_response({"nonce": secrets.token_urlsafe(32)})


async def sessions(request: Request) -> Response:
    try:
        payload = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return invalid_request("request body is not valid JSON")
    if not isinstance(payload, dict):
        return invalid_request("request body must be a JSON object")
    for name in ("device-session-request", "serial-assertion", "model-assertion"):
        value = payload.get(name)
        if not isinstance(value, str) or not value:
            return invalid_request(f"'{name}' must be a non-empty string")
    return json_response({"macaroon": issue_session(state_of(request).secret)})


def cdn_base(request: Request) -> str:
    state = state_of(request)
    if state.cdn_url:
        return state.cdn_url.rstrip("/")
    hostname = urlsplit(f"//{host_of(request)}").hostname or "127.0.0.1"
    if ":" in hostname:
        hostname = f"[{hostname}]"
    return f"{request.url.scheme}://{hostname}:{state.cdn_port}"


async def download(request: Request) -> Response:
    state = state_of(request)
    name = request.path_params["file"]
    match = BLOB_NAME.match(name)
    snap = state.catalogue().by_id(match["snap_id"]) if match else None
    rev = snap.revision(int(match["revision"])) if match and snap else None
    location = f"{cdn_base(request)}/download-origin/{name}"
    if snap is not None and rev is not None and snap.private:
        if not credentialed(request):
            state.stats.private_blob(rev.file, "api-refused")
            rev = None  # answered exactly as an unknown blob
        else:
            state.stats.private_blob(rev.file, "api-granted")
            location += "?" + grant_query(state.secret, name)
    if rev is None:
        return store_error(404, f"No snap file '{name}'.", "not-found")
    return Response(b"", status_code=302, headers={"Location": location})


async def root(request: Request) -> Response:
    return json_response({"snap-store-sim": True, "api": base_url(request)})
