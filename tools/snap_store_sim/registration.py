"""``POST /v2/auth/proxy/register``: proxies register here (the protocol: shared.registration
.protocol), and ``GET /_sim/registrations`` lists them for tests.

One account may register, the registrar (``serve --registrar EMAIL:PASSWORD[:OTP]``;
default :data:`DEFAULT_REGISTRAR`); with an OTP the account has two factors. A registration
is answered with a ``store`` assertion signed by the store key, followed by that key's
account-key and the registering account's ``account`` assertion (the store assertion's
prerequisite: ``snap ack`` fetches nothing), and kept in ``DIR/registrations.json`` (the
simulator's inventory of proxies).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.assertions import encode_stream, sign_assertion
from shared.registration.protocol import (
    REGISTER_PATH,
    RegistrationInvalid,
    new_store_id,
    parse_request,
    store_headers,
)

from .httputil import state_of
from .ids import assertion_time
from .layout import write_json
from .responses import invalid_request, json_response, store_error
from .signing import STORE_ACCOUNT


def _load(request: Request) -> dict[str, Any]:
    path = state_of(request).data.root / "registrations.json"
    loaded: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return loaded


async def register(request: Request) -> Response:
    state = state_of(request)
    registrar = state.registrar
    try:
        wanted = parse_request(json.loads(await request.body()))
    except (ValueError, UnicodeDecodeError) as exc:
        message = str(exc) if isinstance(exc, RegistrationInvalid) else "body is not JSON"
        return invalid_request(message)
    if (wanted.account, wanted.password) != (registrar.account, registrar.password):
        return store_error(401, "Provided email/password is not correct.", "invalid-credentials")
    if registrar.otp and not wanted.otp:
        return store_error(401, "2-factor authentication required.", "twofactor-required")
    if registrar.otp and wanted.otp != registrar.otp:
        return store_error(401, "The provided 2-factor key is not recognised.", "twofactor-failure")
    registrations = _load(request)
    store_id = wanted.store_id or new_store_id()
    known = registrations.get(store_id)
    if wanted.store_id and (known is None or known["public-key"] != wanted.public_key):
        return store_error(404, f"No store {store_id} registered with this key.", "not-found")
    assert state.authority is not None
    headers = store_headers(
        STORE_ACCOUNT, store_id, registrar.account_id, wanted.url, assertion_time()
    )
    signed = sign_assertion(headers, state.authority.store)
    key = state.asserts.get("account-key", [state.authority.store.key_id])
    assert key is not None
    operator = state.authority.account(
        registrar.account_id, registrar.account.partition("@")[0], registrar.account
    )
    bundle = encode_stream([signed, key, operator]).decode()
    registrations[store_id] = {
        "domain": wanted.domain,
        "url": wanted.url,
        "use-case": wanted.use_case,
        "account": wanted.account,
        "public-key": wanted.public_key,
        "registered-at": headers["timestamp"],
        "assertions": bundle,
    }
    write_json(state.data.root / "registrations.json", registrations)
    return json_response({"store-id": store_id, "status": "approved", "assertions": bundle})


async def registrations(request: Request) -> Response:
    return json_response({"registrations": _load(request)})


ROUTES = [
    Route(REGISTER_PATH, register, methods=["POST"]),
    Route("/_sim/registrations", registrations, methods=["GET"]),
]
