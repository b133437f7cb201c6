"""Property-based fuzzing of every service's OpenAPI: no input makes a server error.

Each service app is built in-process with ``create_app(Settings(...))`` on a migrated SQLite
data directory, upstream the session simulator; the apps reach one another in-process, as in
the embedded default. Schemathesis generates valid and invalid requests for every operation
and checks that none is answered with a 5xx. Bounded: MAX_EXAMPLES per operation.

The schemas are the ones the apps publish: the routes that relay a device's body or query
as it is (refresh, device sessions, info, find, names) declare what snapd sends all the same.
The revisions service's ``/_internal`` API is not in its published schema (devices never
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
from shared.admin import ADMIN_PREFIXES
from shared.app import create_resources
from shared.embedded import service_factory
from shared.settings import SERVICE_NAMES, Settings
from tests.support.proxies import ADMIN_TOKEN, DEVICE_HEADERS
from tests.support.sim import SimHandle

# A deeper (and randomised) run: SNAPPROXY_FUZZ_EXAMPLES=500 pytest tests/proxy/test_schemathesis.py
MAX_EXAMPLES = int(os.environ.get("SNAPPROXY_FUZZ_EXAMPLES", "25"))
TIME_LIMIT = 90.0 * MAX_EXAMPLES / 25  # seconds for one service, well above what it takes


def published_schema(service: str, app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI; for the revisions service, its internal API's too."""
    if service != "revisions":
        return app.openapi()
    routes = [r for r in app.routes if isinstance(r, APIRoute) and r.include_in_schema]
    for route in internal_router.routes:
        assert isinstance(route, APIRoute)
        visible = copy.copy(route)
        visible.include_in_schema = True
        routes.append(visible)
    return get_openapi(title="snapproxy revisions (internal)", version="0", routes=routes)


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
        upstream_timeout=3.0,
    )
    migrate.upgrade(config)
    # Each app its own resources, as in the split topology; its peers are the other apps.
    resources = {name: create_resources(config, name, with_peers=False) for name in SERVICE_NAMES}
    apps = {name: service_factory(name)(config, resources[name]) for name in SERVICE_NAMES}
    for own in resources.values():
        for name, other in apps.items():
            own.add_peer(name, f"http://{name}.test", transport=httpx.ASGITransport(app=other))
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


def test_relayed_bodies_and_queries_are_published(service_apps: dict[str, FastAPI]) -> None:
    """The routes that read their body or query raw still show them (nothing is added here)."""
    devicegw = service_apps["devicegw"].openapi()["paths"]
    refresh = devicegw["/v2/snaps/refresh"]["post"]["requestBody"]["content"]["application/json"]
    assert refresh["schema"]["required"] == ["actions"]
    action = refresh["schema"]["properties"]["actions"]["items"]
    assert action["properties"]["action"]["enum"] == [
        "install",
        "download",
        "refresh",
        "fetch-assertions",
    ]
    find = {p["name"] for p in devicegw["/v2/snaps/find"]["get"]["parameters"]}
    assert {"q", "name", "category", "fields", "architecture"} <= find
    auth = service_apps["auth"].openapi()["paths"]
    session = auth["/api/v1/snaps/auth/sessions"]["post"]["requestBody"]["content"]
    assert set(session["application/json"]["schema"]["required"]) == {
        "device-session-request",
        "serial-assertion",
        "model-assertion",
    }
