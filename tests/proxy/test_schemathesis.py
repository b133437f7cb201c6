"""Property-based fuzzing of every service's OpenAPI: no input makes a server error.

Each service app is built in-process with ``create_app(Settings(...))`` on a migrated SQLite
data directory, upstream the session simulator; the apps reach one another in-process, as in
the embedded default. Schemathesis generates valid and invalid requests for every operation
and checks that none is answered with a 5xx. Bounded: MAX_EXAMPLES per operation.

Two additions to the schemas the apps publish, so that there is something to fuzz:

* the device API and device-session handlers read the raw request (snapd's body and query
  are relayed as they are), so their schema declares no body or query; the request shapes
  snapd sends (docs/device-api.md) are added here;
* the revisions service's ``/_internal`` API is not in its published schema (devices never
  reach it); it is fuzzed from a schema generated with its routes included.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from services.revisions.routes import router as internal_router
from shared import migrate
from shared.embedded import service_factory
from shared.settings import SERVICE_NAMES, Settings
from tests.proxy.conftest import ADMIN_TOKEN, DEVICE_HEADERS
from tests.support.sim import SimHandle

# A deeper (and randomised) run: SNAPPROXY_FUZZ_EXAMPLES=500 pytest tests/proxy/test_schemathesis.py
MAX_EXAMPLES = int(os.environ.get("SNAPPROXY_FUZZ_EXAMPLES", "25"))
TIME_LIMIT = 90.0 * MAX_EXAMPLES / 25  # seconds for one service, well above what it takes
ADMIN_PREFIXES = ("/v1/", "/v2/metadata/")

_STR = {"type": "string"}
_INT = {"type": "integer"}
_EPOCH = {
    "type": "object",
    "properties": {
        "read": {"type": "array", "items": _INT},
        "write": {"type": "array", "items": _INT},
    },
}
SNAP_ACTION_REQUEST = {
    "type": "object",
    "required": ["context", "actions"],
    "properties": {
        "context": {
            "type": "array",
            "maxItems": 3,
            "items": {
                "type": "object",
                "required": ["snap-id", "instance-key", "revision"],
                "properties": {
                    "snap-id": _STR,
                    "instance-key": _STR,
                    "revision": _INT,
                    "tracking-channel": _STR,
                    "epoch": _EPOCH,
                    "refreshed-date": _STR,
                    "cohort-key": _STR,
                },
            },
        },
        "actions": {
            "type": "array",
            "maxItems": 3,
            "items": {
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {"enum": ["install", "download", "refresh", "fetch-assertions"]},
                    "instance-key": _STR,
                    "name": {"type": "string", "pattern": "^[a-z0-9](?:-?[a-z0-9]){0,39}$"},
                    "snap-id": _STR,
                    "channel": _STR,
                    "revision": {"type": "integer", "minimum": 1},
                    "cohort-key": _STR,
                    "epoch": {"type": "null"},
                    "key": _STR,
                    "assertions": {
                        "type": "array",
                        "maxItems": 2,
                        "items": {
                            "type": "object",
                            "properties": {
                                "type": _STR,
                                "primary-key": {"type": "array", "items": _STR},
                                "if-newer-than": _INT,
                            },
                        },
                    },
                },
            },
        },
        "fields": {"type": "array", "items": _STR},
    },
}


def _query(*names: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "query", "required": False, "schema": _STR} for name in names]


DEVICE_API_REQUESTS: dict[tuple[str, str], dict[str, Any]] = {
    ("/v2/snaps/refresh", "post"): {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SNAP_ACTION_REQUEST}},
        }
    },
    ("/v2/snaps/info/{name}", "get"): {"parameters": _query("fields", "architecture")},
    ("/v2/snaps/find", "get"): {
        "parameters": _query(
            "q", "name", "category", "channel", "fields", "architecture", "confinement", "private"
        )
    },
    ("/api/v1/snaps/names", "get"): {"parameters": _query("confinement")},
    ("/api/v1/snaps/auth/sessions", "post"): {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "device-session-request": _STR,
                            "serial-assertion": _STR,
                            "model-assertion": _STR,
                        },
                    }
                }
            },
        }
    },
}


def published_schema(service: str, app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI, with the additions described in the module docstring."""
    if service == "revisions":
        routes = []
        for route in internal_router.routes:
            assert isinstance(route, APIRoute)
            visible = copy.copy(route)
            visible.include_in_schema = True
            routes.append(visible)
        return get_openapi(title="snapproxy revisions (internal)", version="0", routes=routes)
    schema = copy.deepcopy(app.openapi())
    for (path, method), extra in DEVICE_API_REQUESTS.items():
        operation = schema["paths"].get(path, {}).get(method)
        if operation is not None:
            operation.setdefault("parameters", []).extend(extra.get("parameters", []))
            if "requestBody" in extra:
                operation["requestBody"] = extra["requestBody"]
    return schema


@pytest.fixture(scope="module")
def service_apps(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> dict[str, FastAPI]:
    if not upstream.running:
        upstream.start()
    data_dir: Path = tmp_path_factory.mktemp("schemathesis")
    config = Settings(
        data_dir=data_dir,
        upstream_url=upstream.api_url,
        admin_token=ADMIN_TOKEN,
        public_url="http://proxy.test:8000",
        # No network peers: they are replaced by in-process ones below.
        service_urls=dict.fromkeys(SERVICE_NAMES, "http://127.0.0.1:9"),
        upstream_timeout=3.0,
    )
    migrate.upgrade(config)
    apps = {name: service_factory(name)(config, None) for name in SERVICE_NAMES}  # type: ignore[arg-type]
    for app in apps.values():
        peers = app.state.resources.peers
        for name, other in apps.items():
            peers[name] = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=other), base_url=f"http://{name}.test"
            )
    return apps


def runner(operation: Any, headers: dict[str, str]) -> Callable[[], None]:
    """A Hypothesis test of one operation: positive and negative cases, no 5xx."""
    strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE) | (
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize="SNAPPROXY_FUZZ_EXAMPLES" not in os.environ,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    return run


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_no_server_errors(service_apps: dict[str, FastAPI], service: str, sim: SimHandle) -> None:
    app = service_apps[service]
    schema = schemathesis.openapi.from_dict(published_schema(service, app))
    schema.app = app
    operations = [cast(Any, result).ok() for result in schema.get_all_operations()]
    assert operations, f"{service} has no operations in its OpenAPI"
    started = time.monotonic()
    failures: list[str] = []
    for operation in operations:
        headers = dict(DEVICE_HEADERS)
        if operation.path.startswith(ADMIN_PREFIXES):
            headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        try:
            runner(operation, headers)()
        except Exception as exc:  # report every failing operation, not only the first
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert time.monotonic() - started < TIME_LIMIT
