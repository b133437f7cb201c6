"""``proxy.device-limit`` in the auth service, in-process over SQLite with a scripted
upstream: what counts as connected (a verified session in the last 24 hours), what reaches
the upstream, and the database away (the limit cannot be checked: sessions go on)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from services.auth.app import create_app
from shared import migrate
from shared.app import create_resources
from shared.settings import Settings
from tests.support.device_api import assert_store_error
from tests.support.device_sessions import SESSIONS, new_device, session_body
from tests.support.proxies import ADMIN_TOKEN


@dataclass
class Upstream:
    granted: list[str] = field(default_factory=list)  # the serial assertions it saw

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.granted.append(request.content.decode())
        return httpx.Response(200, json={"macaroon": "m"})


@dataclass
class Auth:
    client: httpx.AsyncClient
    upstream: Upstream
    database: Path


@pytest.fixture
async def auth(tmp_path: Path) -> AsyncIterator[Auth]:
    settings = Settings(
        data_dir=tmp_path, admin_token=ADMIN_TOKEN, upstream_url="http://store", device_limit=1
    )
    await asyncio.to_thread(migrate.upgrade, settings)
    upstream = Upstream()
    resources = create_resources(
        settings, "auth", with_peers=False, upstream_transport=httpx.MockTransport(upstream)
    )
    app = create_app(settings, resources)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 4242))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
            yield Auth(client, upstream, tmp_path / "snapproxy.db")
    finally:
        await resources.aclose()


async def summary(auth: Auth) -> dict[str, object]:
    response = await auth.client.get(
        "/v1/devices/summary", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_limit_of_one_admits_one_device(auth: Auth) -> None:
    first, second = new_device("one"), new_device("two")
    assert (await auth.client.post(SESSIONS, json=first.session_body())).status_code == 200
    refused = await auth.client.post(SESSIONS, json=second.session_body())
    assert_store_error(refused, 403, "device-limit-reached")
    assert len(auth.upstream.granted) == 1  # the refused request never left the proxy
    assert (await auth.client.post(SESSIONS, json=first.session_body())).status_code == 200
    # Not a serial: not a device, relayed (the upstream judges it).
    assert (await auth.client.post(SESSIONS, json=session_body("garbage"))).status_code == 200
    figures = await summary(auth)
    assert figures["connected-devices"] == 1 and figures["device-limit"] == 1
    assert (figures["refused-devices"], figures["refused-sessions"]) == (1, 1)


async def test_a_device_quiet_for_a_day_is_new_again(auth: Auth) -> None:
    quiet, newcomer = new_device("quiet"), new_device("newcomer")
    assert (await auth.client.post(SESSIONS, json=quiet.session_body())).status_code == 200
    day_ago = (datetime.now(UTC) - timedelta(hours=25)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(auth.database) as db:
        db.execute("UPDATE devices SET last_seen = ? WHERE serial = ?", (day_ago, quiet.serial))
    assert (await summary(auth))["connected-devices"] == 0
    assert (await auth.client.post(SESSIONS, json=newcomer.session_body())).status_code == 200
    again = await auth.client.post(SESSIONS, json=quiet.session_body())
    assert_store_error(again, 403, "device-limit-reached")
    assert "at most 1 devices" in again.json()["error-list"][0]["message"]


async def test_the_database_away_lets_sessions_through(auth: Auth) -> None:
    with sqlite3.connect(auth.database) as db:
        db.execute("DROP TABLE devices")
    response = await auth.client.post(SESSIONS, json=new_device("away").session_body())
    assert response.status_code == 200, response.text
    assert len(auth.upstream.granted) == 1
