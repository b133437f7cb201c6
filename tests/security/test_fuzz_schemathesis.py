"""Issue 15's fuzz pass, the schemathesis half: every public operation of every service,
through the real gateway of each topology, over HTTP.

The OpenAPI document of each service comes from its app (built in-process, never started:
only its routes are read); schemathesis generates valid and invalid requests from it and
sends them to the running gateway (``snap-proxy serve``'s in-process router, or the split
topology's nginx), while a well-behaved neighbour runs (``tests/security/fuzzing.py``).

- Device API, downloads, assertions, sessions: with a device's headers. No answer is a 5xx.
- Admin API (``/v1/...``): once with the admin token, once without. No answer is a 5xx;
  without the token every answer is a 401.
- Internal API (``/_internal/...``, left out of the published documents): its operations,
  with and without an internal secret, through the gateway. Every answer is a 404: the
  gateways do not route it.

``tests/proxy/test_schemathesis.py`` does the same against each app in-process, where the
internal API answers. CI runs ``SNAPPROXY_FUZZ_EXAMPLES`` (default 20) examples of each
operation and mode, derandomised; setting it draws a fresh seed (printed), and
``SNAPPROXY_FUZZ_SEED`` replays one.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import requests
import schemathesis
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from starlette.routing import BaseRoute

from shared.admin import ADMIN_PREFIXES
from shared.app import create_resources
from shared.embedded import service_factory
from shared.internal import HEADER as INTERNAL_HEADER
from shared.internal import INTERNAL_PREFIX
from shared.settings import SERVICE_NAMES, Settings
from tests.security.fuzzing import (
    EXAMPLES_VARIABLE,
    cached_download,
    deeper_run,
    fuzz_seed,
    neighbour_summary,
    well_behaved_neighbour,
)
from tests.support.proxies import ADMIN_TOKEN, DEVICE_HEADERS, ProxyUnderTest
from tests.support.sim import SimHandle

EXAMPLES = int(os.environ.get(EXAMPLES_VARIABLE, "20"))
# About 35 operation runs of EXAMPLES requests, some 25 ms each on two cores.
pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(120 + 3 * EXAMPLES)]
TIMEOUT = 30.0  # seconds for one request


def _unrouted(ctx: Any, response: Any, case: Any) -> bool | None:
    """Check of the internal API's operations: the gateway does not route them."""
    assert response.status_code == 404, f"{case.path}: {response.status_code} through the gateway"
    return None


def _admin_closed(ctx: Any, response: Any, case: Any) -> bool | None:
    """Check of the admin API without the token: 401, whatever the request."""
    assert response.status_code == 401, f"{case.path}: {response.status_code} without the token"
    return None


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every APIRoute of ``routes``, those of included routers too (FastAPI keeps an included
    router as one entry that refers to it)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:
            yield from api_routes(included.routes)


def internal_schema(app: FastAPI) -> dict[str, Any] | None:
    """An OpenAPI document of ``app``'s internal routes (they are not in its own)."""
    routes = []
    for route in api_routes(app.routes):
        if route.path.startswith(INTERNAL_PREFIX):
            visible = copy.copy(route)
            visible.include_in_schema = True
            routes.append(visible)
    if not routes:
        return None
    return get_openapi(title=f"{app.title} (internal)", version="0", routes=routes)


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, dict[str, Any]]]:
    """(kind, OpenAPI document) of every service: its published one and its internal one."""
    config = Settings(data_dir=Path(tmp_path_factory.mktemp("openapi")), admin_token=ADMIN_TOKEN)
    found: list[tuple[str, dict[str, Any]]] = []
    for name in SERVICE_NAMES:
        app = service_factory(name)(config, create_resources(config, name, with_peers=False))
        found.append(("public", app.openapi()))
        if (internal := internal_schema(app)) is not None:
            found.append(("internal", internal))
    assert any(kind == "internal" for kind, _ in found), "no internal API found to prove"
    return found


@pytest.fixture(scope="module")
def fuzz_seed_value() -> int:
    return fuzz_seed()


def runner(
    operation: Any, base_url: str, headers: dict[str, str], checks: list[Any], sent: list[int]
) -> Callable[[], None]:
    """A Hypothesis test of one operation through the gateway: valid and invalid requests."""
    strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE) | (
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    )
    session = requests.Session()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not deeper_run(),
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        sent[0] += 1
        case.call_and_validate(
            base_url=base_url, session=session, headers=headers, checks=checks, timeout=TIMEOUT
        )

    return run


def plans(
    documents: list[tuple[str, dict[str, Any]]],
) -> Iterator[tuple[Any, dict[str, str], list[Any], str]]:
    """(operation, headers, checks, label) for every operation of every document, once per
    way it is called (the admin API with and without the token), each path once."""
    seen: set[tuple[str, str]] = set()
    for kind, document in documents:
        schema = schemathesis.openapi.from_dict(document)
        for result in schema.get_all_operations():
            operation = cast(Any, result).ok()
            key = (operation.method.upper(), operation.path)
            if key in seen:
                continue
            seen.add(key)
            if kind == "internal":
                for secret in ({}, {INTERNAL_HEADER: "a-guess"}):
                    yield operation, {**DEVICE_HEADERS, **secret}, [_unrouted], "internal"
            elif operation.path.startswith(ADMIN_PREFIXES):
                token = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
                yield operation, token, [not_a_server_error], "admin"
                yield operation, {}, [not_a_server_error, _admin_closed], "admin, no token"
            else:
                yield operation, dict(DEVICE_HEADERS), [not_a_server_error], "device"


def test_every_public_operation_through_the_gateway(
    any_proxy: ProxyUnderTest,
    sim: SimHandle,
    documents: list[tuple[str, dict[str, Any]]],
    fuzz_seed_value: int,
) -> None:
    download = cached_download(any_proxy)
    started = time.monotonic()
    sent = [0]
    operations = 0
    failures: list[str] = []
    with well_behaved_neighbour(any_proxy, download) as neighbour:
        for operation, headers, checks, label in plans(documents):
            operations += 1
            test = runner(operation, any_proxy.url, headers, checks, sent)
            if deeper_run():
                test = seed(fuzz_seed_value)(test)
            try:
                test()
            # Report every failing operation, not only the first (schemathesis raises its
            # failures as a BaseExceptionGroup).
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.method.upper()} {operation.path} ({label}): {exc}")
    elapsed = time.monotonic() - started
    print(
        f"\nschemathesis through {any_proxy.name}: {operations} operation runs, {sent[0]} "
        f"requests in {elapsed:.1f} s (seed {fuzz_seed_value if deeper_run() else 'fixed'}); "
        f"neighbour: {neighbour_summary(neighbour)}"
    )
    assert not failures, "\n\n".join(failures)
