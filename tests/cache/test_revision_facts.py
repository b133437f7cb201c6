"""The download path's revision facts: a read-through cache the revisions service keeps
honest (issue 8, item 3). A download fills the shared cache with what the revisions service
recorded; recording that revision again drops the cached facts, so the next download reads
the new record (a later upstream answer replaces a disagreeing one, finding 1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.downloads.revision_index import RevisionFacts
from shared import migrate
from shared.embedded import EmbeddedGateway
from shared.revisions_api import Observation, RevisionIn, facts_key
from shared.settings import Settings
from tests.support.cache import KIB, publish
from tests.support.device_api import REFRESH, install, refresh_body
from tests.support.proxies import DEVICE_HEADERS
from tests.support.sim import SimHandle


@pytest.fixture
async def gateway(tmp_path: Path, sim: SimHandle) -> AsyncIterator[EmbeddedGateway]:
    env = sim.proxy_env()
    settings = Settings(
        data_dir=tmp_path,
        upstream_url=env["SNAPPROXY_UPSTREAM_URL"],
        cdn_hosts=env["SNAPPROXY_CDN_HOSTS"],
        trusted_root_keys=env["SNAPPROXY_TRUSTED_ROOT_KEYS"],
        cache_min_free="0",
    )
    await asyncio.to_thread(migrate.upgrade, settings)
    app = EmbeddedGateway(settings)
    async with app.lifespan_context():
        yield app


async def test_recording_a_revision_drops_its_cached_facts(
    gateway: EmbeddedGateway, sim: SimHandle
) -> None:
    blob = await asyncio.to_thread(publish, sim, 16 * KIB, "facts")
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy.test") as client:
        answer = await client.post(
            REFRESH, json=refresh_body([install(blob.name, "install-1")]), headers=DEVICE_HEADERS
        )
        assert answer.status_code == 200, answer.text
        head = await client.head(blob.url_path, headers={"X-Ubuntu-Architecture": "amd64"})
        assert head.status_code == 200
    cache = gateway.resources.cache
    cached = await cache.get(facts_key(blob.snap_id, blob.revision))
    assert cached is not None
    facts = RevisionFacts.decode(cached)
    assert facts is not None and facts.sha3_384 == blob.sha3_384

    replaced = RevisionIn(
        snap_id=blob.snap_id,
        name=blob.name,
        revision=blob.revision,
        sha3_384="0" * 96,
        size=blob.size + 1,
        upstream_url=facts.upstream_url,
    )
    recorded = await gateway.resources.peers["revisions"].post(
        "/_internal/observations", content=Observation(revisions=[replaced]).model_dump_json()
    )
    assert recorded.status_code == 204, recorded.text
    assert await cache.get(facts_key(blob.snap_id, blob.revision)) is None
