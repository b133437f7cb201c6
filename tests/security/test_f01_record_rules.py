"""Finding 1 (and the record side of finding 6), in process on both databases: the internal
secret, what the revisions service records, and which answer wins.

The revisions service runs as its own FastAPI app over SQLite and PostgreSQL; requests come
from an httpx client, as another service's would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.revisions.app import create_app
from shared import migrate
from shared.app import Resources, create_resources, part_of
from shared.internal import HEADER
from shared.models import SuiteSecret
from shared.settings import Settings
from tests.support.device_api import assert_store_error
from tests.support.infra import fresh_database

SECRET = "record-rules-secret"
UPSTREAM = "https://api.snapcraft.io"
BLOB = UPSTREAM + "/api/v1/snaps/download/{}_{}.snap"
SHA_A, SHA_B = "a" * 96, "b" * 96
OBSERVATIONS = "/_internal/observations"


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    data_dir = tmp_path_factory.mktemp("record-rules")
    settings = Settings(data_dir=data_dir)
    migrate.upgrade(settings)
    return str(settings.sqlalchemy_url.set(drivername="sqlite"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def revisions(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        upstream_url=UPSTREAM,
        internal_secret=SECRET,
        max_snap_size="1MiB",
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://revisions", headers={HEADER: SECRET}
    ) as client:
        yield client
    await part_of(app, Resources).aclose()


def revision(
    snap_id: str, number: int = 1, *, sha3: str = SHA_A, size: int = 100, **extra: Any
) -> dict[str, Any]:
    return {
        "snap_id": snap_id,
        "name": "rules-" + snap_id[:6],
        "revision": number,
        "architectures": ["amd64"],
        "sha3_384": sha3,
        "size": size,
        "upstream_url": BLOB.format(snap_id, number),
        **extra,
    }


async def observe(client: httpx.AsyncClient, *revisions: dict[str, Any]) -> None:
    response = await client.post(OBSERVATIONS, json={"revisions": list(revisions)})
    assert response.status_code == 204, response.text


async def stored(client: httpx.AsyncClient, snap_id: str, number: int = 1) -> dict[str, Any]:
    response = await client.get(f"/_internal/revisions/{snap_id}/{number}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def not_stored(client: httpx.AsyncClient, snap_id: str, number: int = 1) -> bool:
    response = await client.get(f"/_internal/revisions/{snap_id}/{number}")
    return response.status_code == 404


def new_id() -> str:
    return uuid.uuid4().hex


# -- the secret --------------------------------------------------------------------------------


async def test_internal_routes_need_the_secret(revisions: httpx.AsyncClient) -> None:
    sid = new_id()
    routes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", OBSERVATIONS, {"revisions": [revision(sid)]}),
        ("GET", f"/_internal/revisions/{sid}/1", None),
        ("POST", "/_internal/resolve", {"queries": []}),
    ]
    for method, path, body in routes:
        missing = await revisions.request(method, path, json=body, headers={HEADER: ""})
        assert_store_error(missing, 401, "unauthorized")
        wrong = await revisions.request(method, path, json=body, headers={HEADER: SECRET + "x"})
        assert_store_error(wrong, 403, "forbidden")
        odd = await revisions.request(
            method, path, json=body, headers={HEADER.encode(): "s\u00e9cret".encode("latin-1")}
        )
        assert_store_error(odd, 403, "forbidden")
    assert await not_stored(revisions, sid)


async def test_the_secret_is_checked_before_the_body_is_read(revisions: httpx.AsyncClient) -> None:
    not_json = b"{" * 100_000
    response = await revisions.post(OBSERVATIONS, content=not_json, headers={HEADER: ""})
    assert_store_error(response, 401, "unauthorized")
    response = await revisions.post(OBSERVATIONS, content=not_json)  # with the secret
    assert_store_error(response, 400, "invalid-request")


# -- what is recorded --------------------------------------------------------------------------


async def test_blob_urls_off_the_allow_list_are_dropped_the_rest_kept(
    revisions: httpx.AsyncClient,
) -> None:
    sid = new_id()
    urls = [
        "http://api.snapcraft.io/x",  # scheme
        "https://api.snapcraft.io:8443/x",  # port
        "https://api.snapcraft.io.evil.example/x",
        "http://127.0.0.1:11211/",
        "https://cdn.snapcraftcontent.com:444/x",
    ]
    await observe(
        revisions,
        *[revision(sid, n, upstream_url=url) for n, url in enumerate(urls, start=1)],
        revision(sid, 10),
        revision(sid, 11, upstream_url="https://x.cdn.snapcraftcontent.com/blob"),
    )
    for number in range(1, len(urls) + 1):
        assert await not_stored(revisions, sid, number), urls[number - 1]
    assert (await stored(revisions, sid, 10))["sha3_384"] == SHA_A
    assert (await stored(revisions, sid, 11))["upstream_url"].startswith("https://x.cdn.")


async def test_sizes_over_the_cap_are_not_recorded(revisions: httpx.AsyncClient) -> None:
    sid = new_id()
    await observe(
        revisions,
        revision(sid, 1, size=2**62),
        revision(sid, 2, size=2**20 + 1),
        revision(sid, 3, size=2**20),  # SNAPPROXY_MAX_SNAP_SIZE=1MiB here
    )
    assert await not_stored(revisions, sid, 1)
    assert await not_stored(revisions, sid, 2)
    assert (await stored(revisions, sid, 3))["size"] == 2**20


async def test_a_replaced_size_is_bounded_too(revisions: httpx.AsyncClient) -> None:
    sid = new_id()
    await observe(revisions, revision(sid, size=100))
    await observe(revisions, revision(sid, sha3=SHA_B, size=2**62))
    assert (await stored(revisions, sid))["size"] == 100


# -- which answer wins -------------------------------------------------------------------------


async def test_a_different_blob_replaces_the_whole_record(revisions: httpx.AsyncClient) -> None:
    sid = new_id()
    await observe(revisions, revision(sid, sha3=SHA_A, size=100, snap={"version": "forged"}))
    await observe(revisions, revision(sid, sha3=SHA_B, size=200, architectures=[]))
    record = await stored(revisions, sid)
    assert (record["sha3_384"], record["size"]) == (SHA_B, 200)
    assert record["snap"] == {} and record["architectures"] == []
    # The same size with another hash is another blob too.
    await observe(revisions, revision(sid, sha3=SHA_A, size=200))
    assert (await stored(revisions, sid))["sha3_384"] == SHA_A


async def test_the_same_blob_keeps_what_an_answer_left_out(revisions: httpx.AsyncClient) -> None:
    sid = new_id()
    await observe(revisions, revision(sid, snap={"version": "1.0"}))
    await observe(revisions, revision(sid, architectures=[]))
    record = await stored(revisions, sid)
    assert record["snap"] == {"version": "1.0"} and record["architectures"] == ["amd64"]


@pytest.mark.parametrize(
    ("answers", "private"),
    [
        ([True], True),
        ([False], False),
        ([True, True], True),
        ([True, False], False),  # a public answer clears it
        ([False, True], False),  # a private answer never sets it on a public blob
        ([True, False, True], False),
    ],
)
async def test_private_flag_of_one_blob(
    revisions: httpx.AsyncClient, answers: list[bool], private: bool
) -> None:
    sid = new_id()
    for answer in answers:
        await observe(revisions, revision(sid, private=answer))
    assert (await stored(revisions, sid))["private"] is private


async def test_a_private_answer_with_another_blob_replaces_a_public_record(
    revisions: httpx.AsyncClient,
) -> None:
    sid = new_id()
    await observe(revisions, revision(sid, sha3=SHA_A, private=False))
    await observe(revisions, revision(sid, sha3=SHA_B, private=True))
    record = await stored(revisions, sid)
    assert record["sha3_384"] == SHA_B and record["private"] is True


async def test_resolve_shows_private(revisions: httpx.AsyncClient) -> None:
    sid = new_id()
    await observe(revisions, revision(sid, private=True))
    query = {"snap_id": sid, "architecture": "amd64", "revision": 1}
    answer = await revisions.post("/_internal/resolve", json={"queries": [query]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["private"] is True


# -- where the secret comes from ---------------------------------------------------------------


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[Settings]:
    """A migrated PostgreSQL database no process has used yet."""
    with fresh_database() as url:
        settings = Settings(database_url=url, data_dir=tmp_path)
        migrate.upgrade(settings)
        yield settings


async def stored_secrets(settings: Settings) -> list[tuple[str, str]]:
    resources = create_resources(settings, "test", with_peers=False)
    try:
        async with resources.sessionmaker() as session:
            rows = await session.execute(select(SuiteSecret.name, SuiteSecret.value))
            return [(name, value) for name, value in rows]
    finally:
        await resources.aclose()


async def test_processes_starting_together_agree_on_one_generated_secret(
    empty_database: Settings,
) -> None:
    processes = [create_resources(empty_database, f"p{n}", with_peers=False) for n in range(4)]
    try:
        secrets = await asyncio.gather(*(p.internal_secret.get() for p in processes))
    finally:
        for process in processes:
            await process.aclose()
    assert len(set(secrets)) == 1 and len(secrets[0]) >= 32
    assert await stored_secrets(empty_database) == [("internal", secrets[0])]
    later = create_resources(empty_database, "later", with_peers=False)
    try:
        assert await later.internal_secret.get() == secrets[0]
    finally:
        await later.aclose()


async def test_a_configured_secret_is_used_and_not_stored(empty_database: Settings) -> None:
    settings = Settings(
        database_url=empty_database.database_url,
        data_dir=empty_database.data_dir,
        internal_secret="from-the-settings",
    )
    resources = create_resources(settings, "test", with_peers=False)
    try:
        assert await resources.internal_secret.get() == "from-the-settings"
    finally:
        await resources.aclose()
    assert await stored_secrets(empty_database) == []


@pytest.fixture
def empty_sqlite(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path, upstream_url=UPSTREAM)
    migrate.upgrade(settings)
    return settings


async def test_sqlite_the_service_loads_the_secret_before_serving(empty_sqlite: Settings) -> None:
    settings = empty_sqlite
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            [(name, value)] = await stored_secrets(settings)
            assert name == "internal"
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
                answer = await client.get("/_internal/revisions/x/1", headers={HEADER: value})
            assert_store_error(answer, 404, "not-found")  # heard, and nothing is known
    finally:
        await part_of(app, Resources).aclose()


async def test_peer_clients_send_the_secret(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, internal_secret=SECRET, service_urls={})
    resources = create_resources(settings, "test")
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get(HEADER))
        return httpx.Response(204)

    try:
        peer = resources.add_peer("other", "http://other", transport=httpx.MockTransport(answer))
        await peer.get("/_internal/anything")
        await resources.peers["other"].post("/_internal/else", json={})
    finally:
        await resources.aclose()
    assert seen == [SECRET, SECRET]
