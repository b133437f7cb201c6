"""A registered child's report to its parent (POST /v2/auth/proxy/report), in-process over
SQLite: a report signed with the child's registered identity key is taken and shows in the
inventory; a forged, replayed, stale or malformed one gets a 4xx in the Store's shape and
changes nothing. And the child's side: a parent that cannot be reached is a warning."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from services.auth.app import create_app
from services.auth.reporter import ParentReporter
from services.auth.service import AuthService
from shared import migrate
from shared.app import create_resources
from shared.registration.client import Identity, new_identity
from shared.registration.protocol import REGISTER_PATH
from shared.registration.report import (
    REPORT_PATH,
    SIGNATURE_HEADER,
    Report,
    encode_report,
    parse_report,
    sign,
)
from shared.settings import Settings
from shared.split import free_port
from tests.support.device_api import assert_store_error
from tests.support.proxies import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
Keys = tuple[Identity, Identity, Identity]


@pytest.fixture(scope="module")
def keys() -> Keys:
    """The parent's, the child's and a stranger's identity keys (2048 bits: quick)."""
    return new_identity(2048), new_identity(2048), new_identity(2048)


@dataclass
class Parent:
    client: httpx.AsyncClient
    child: Identity
    stranger: Identity
    store_id: str


@pytest.fixture
async def parent(tmp_path: Path, keys: Keys) -> AsyncIterator[Parent]:
    own, child, stranger = keys
    settings = Settings(
        data_dir=tmp_path,
        admin_token=ADMIN_TOKEN,
        upstream_url="http://store",
        key_private=own.private_pem,
        key_public=own.public_openssh,
    )
    await asyncio.to_thread(migrate.upgrade, settings)
    resources = create_resources(settings, "auth", with_peers=False)
    app = create_app(settings, resources)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://parent"
        ) as client:
            registered = await client.post(
                REGISTER_PATH,
                json={
                    "account": "branch@example.com",
                    "password": ADMIN_TOKEN,
                    "domain": "branch.example.test",
                    "url": "http://branch.example.test",
                    "use-case": "a branch",
                    "public-key": child.public_openssh,
                },
            )
            assert registered.status_code == 200, registered.text
            yield Parent(client, child, stranger, registered.json()["store-id"])
    finally:
        await resources.aclose()


def report(store_id: str, devices: int = 3, others: int | None = 5, **late: float) -> bytes:
    sent_at = datetime.now(UTC) - timedelta(seconds=late.get("seconds", 0))
    return encode_report(Report(store_id, sent_at, devices, others))


async def send(parent: Parent, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return await parent.client.post(REPORT_PATH, content=body, headers=headers)


async def inventory(parent: Parent) -> dict[str, Any]:
    listed = await parent.client.get("/v1/children", headers=ADMIN)
    assert listed.status_code == 200, listed.text
    (child,) = listed.json()["children"]
    found: dict[str, Any] = child
    return found


async def test_a_signed_report_is_recorded(parent: Parent) -> None:
    before = await inventory(parent)
    assert before["devices"] is None and before["reported-at"] is None
    body = report(parent.store_id, devices=3, others=5)
    taken = await send(parent, body, await asyncio.to_thread(sign, parent.child.private_pem, body))
    assert taken.status_code == 200, taken.text
    after = await inventory(parent)
    assert after["devices"] == 3 and after["other-clients"] == 5
    assert after["reported-at"] is not None
    assert after["last-contact"] > before["last-contact"]
    # A later report replaces the figures; other clients it could not count are null.
    body = report(parent.store_id, devices=4, others=None)
    taken = await send(parent, body, await asyncio.to_thread(sign, parent.child.private_pem, body))
    assert taken.status_code == 200, taken.text
    latest = await inventory(parent)
    assert latest["devices"] == 4 and latest["other-clients"] is None


async def test_forged_replayed_stale_and_malformed_reports_change_nothing(
    parent: Parent,
) -> None:
    child_key, stranger_key = parent.child.private_pem, parent.stranger.private_pem
    first = report(parent.store_id, devices=1, others=1, seconds=5)
    assert (await send(parent, first, sign(child_key, first))).status_code == 200
    recorded = await inventory(parent)

    good = report(parent.store_id, devices=9, others=9)
    unknown = json.dumps({**json.loads(good), "store-id": "A" * 32}).encode()
    tampered = json.dumps({**json.loads(good), "devices": 900}).encode()
    refusals: list[tuple[bytes, str | None, int, str]] = [
        (good, None, 401, "invalid-credentials"),  # not signed
        (good, "bm90IGEgc2lnbmF0dXJl", 401, "invalid-credentials"),
        (good, "%%% not base64", 401, "invalid-credentials"),
        (good, sign(stranger_key, good), 401, "invalid-credentials"),  # another key
        (tampered, sign(child_key, good), 401, "invalid-credentials"),  # changed after signing
        (unknown, sign(child_key, unknown), 401, "invalid-credentials"),  # no such child
        (first, sign(child_key, first), 409, "stale-report"),  # replayed
        (
            report(parent.store_id, seconds=3600),
            sign(child_key, report(parent.store_id, seconds=3600)),
            409,
            "stale-report",
        ),
        (b"not json", sign(child_key, b"not json"), 400, "invalid-request"),
        (b"[]", sign(child_key, b"[]"), 400, "invalid-request"),
    ]
    for devices in (-1, True, "3", 10**10):
        bad = json.dumps({**json.loads(good), "devices": devices}).encode()
        refusals.append((bad, sign(child_key, bad), 400, "invalid-request"))
    for sent_at in ("yesterday", "2026-12-07T01:00:00", 7, "0001-01-01T00:00:00+14:00"):
        bad = json.dumps({**json.loads(good), "sent-at": sent_at}).encode()
        refusals.append((bad, sign(child_key, bad), 400, "invalid-request"))
    for body, signature, status, code in refusals:
        answer = await send(parent, body, signature)
        assert_store_error(answer, status, code)
        assert await inventory(parent) == recorded, body
    too_big = b" " * 5000 + good
    assert (await send(parent, too_big, sign(child_key, too_big))).status_code == 413
    assert await inventory(parent) == recorded
    # The good one, signed, still goes through.
    assert (await send(parent, good, sign(child_key, good))).status_code == 200
    assert (await inventory(parent))["devices"] == 9


def test_report_round_trip() -> None:
    sent = Report("B" * 32, datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC), 2, None)
    assert parse_report(encode_report(sent)) == sent


async def test_a_child_whose_parent_is_away_warns(tmp_path: Path, keys: Keys) -> None:
    _, child, _ = keys
    settings = Settings(
        data_dir=tmp_path,
        upstream_url=f"http://127.0.0.1:{free_port()}",
        store_id="C" * 32,
        store_url="http://branch.example.test",
        key_private=child.private_pem,
        key_public=child.public_openssh,
    )
    await asyncio.to_thread(migrate.upgrade, settings)
    resources = create_resources(settings, "auth", with_peers=False)
    try:
        reporter = ParentReporter(
            resources, AuthService(resources.upstream, resources.sessionmaker)
        )
        with capture_logs() as logs:
            assert await reporter.report(settings) is False
        (warning,) = [entry for entry in logs if entry["event"] == "auth.parent_unreachable"]
        assert warning["log_level"] == "warning"
        assert warning["error"] == "[Errno 111] Connection refused"
        assert warning["parent"] == settings.upstream_url
        assert "serves on" in warning["detail"]
    finally:
        await resources.aclose()
