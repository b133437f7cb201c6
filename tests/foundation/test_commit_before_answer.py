"""A request's transaction is committed before its answer is sent (``shared.deps.SessionDep``).

FastAPI runs a ``yield`` dependency's exit code after the answer is sent unless the dependency
says ``scope="function"``: the revisions service answered 204 to an observation (another
service's call) before committing it, and the caller's next read could miss it (seen in CI:
``test_internal_api_needs_the_secret`` got a 404 for what it had just recorded).

The service app is driven in-process at the ASGI level; when its answer starts, the test
reads the database through a connection of its own.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from shared import migrate
from shared.app import create_resources
from shared.embedded import service_factory
from shared.internal import HEADER as INTERNAL_HEADER
from shared.settings import Settings

SECRET = "commit-before-answer-" + "s" * 24
UPSTREAM = "http://127.0.0.1:9"  # never asked: an observation is recorded, not fetched


def observation(snap_id: str) -> bytes:
    revision = {
        "snap_id": snap_id,
        "name": "committed-first",
        "revision": 7,
        "architectures": ["amd64"],
        "sha3_384": "a" * 96,
        "size": 4096,
        "upstream_url": f"{UPSTREAM}/api/v1/snaps/download/{snap_id}_7.snap",
    }
    return json.dumps({"revisions": [revision]}).encode()


def stored(database: Path, snap_id: str) -> bool:
    with sqlite3.connect(database) as connection:
        query = "SELECT count(*) FROM snap_revisions WHERE snap_id = ?"
        return bool(connection.execute(query, (snap_id,)).fetchone()[0])


async def test_an_observation_is_committed_before_the_answer_starts(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, upstream_url=UPSTREAM, internal_secret=SecretStr(SECRET))
    await asyncio.to_thread(migrate.upgrade, settings)  # it runs a loop of its own
    database = tmp_path / "snapproxy.db"
    app = service_factory("revisions")(
        settings, create_resources(settings, "revisions", with_peers=False)
    )
    snap_id = "c" * 32
    body = observation(snap_id)
    answers: list[tuple[int, bool]] = []
    sent_body = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if sent_body:
            return {"type": "http.disconnect"}
        sent_body = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answers.append((message["status"], stored(database, snap_id)))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/_internal/observations",
        "raw_path": b"/_internal/observations",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"revisions.test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (INTERNAL_HEADER.lower().encode(), SECRET.encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    async with app.router.lifespan_context(app):
        assert not stored(database, snap_id)
        await app(scope, receive, send)
    assert answers == [(204, True)], "the answer started before the observation was committed"
