"""The proxy with the upstream store away, and back.

These tests stop the session simulator, so they use proxies of their own (embedded and split)
with short TTLs: a cached answer expires within seconds, so what is served while the store is
away really is the last good answer kept for outages (stale-if-error), not a fresh entry.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.device_api import (
    REFRESH,
    assert_store_error,
    context_entry,
    download,
    download_urls,
    install,
    refresh_action,
    refresh_body,
    sha3,
    sim_requests,
    snap_id,
)
from tests.support.infra import running_split
from tests.support.proxies import ADMIN_TOKEN, EmbeddedProxy, ProxyUnderTest
from tests.support.sim import SimHandle

TTL = 2  # seconds info/find answers and upstream 404s stay fresh
SHORT_TTLS = {"SNAPPROXY_INFO_TTL": str(TTL), "SNAPPROXY_NOT_FOUND_TTL": str(TTL)}
# The circuit breaker lets a trial call through 10 s after it opened; allow for that.
RECOVERY_TIMEOUT = 25.0


@dataclass
class OfflineProxy:
    proxy: ProxyUnderTest
    alive: Callable[[], bool]
    logs: Callable[[], str]


@pytest.fixture(scope="module", params=["embedded", "split"])
def short_ttl(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    upstream: SimHandle,
) -> Iterator[OfflineProxy]:
    if not upstream.running:
        upstream.start()
    common = {
        **upstream.proxy_env(),
        "SNAPPROXY_ADMIN_TOKEN": ADMIN_TOKEN,
        **SHORT_TTLS,
    }
    if request.param == "embedded":
        data_dir = tmp_path_factory.mktemp("offline-embedded")
        embedded = EmbeddedProxy(data_dir, **common)
        embedded.start()
        try:
            yield OfflineProxy(
                ProxyUnderTest("embedded", embedded.url, data_dir),
                alive=lambda: embedded.process is not None and embedded.process.poll() is None,
                logs=lambda: embedded.log_path.read_text(errors="replace"),
            )
        finally:
            embedded.stop()
        return
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    base = tmp_path_factory.mktemp("offline-split")
    with running_split(base / "run", base / "data", common) as topology:

        def alive() -> bool:
            processes = [p for group in topology.processes.values() for p in group]
            return all(p.poll() is None for p in [*processes, topology.nginx] if p is not None)

        def logs() -> str:
            return "\n".join(p.read_text(errors="replace") for p in (base / "run").glob("*.log"))

        yield OfflineProxy(
            ProxyUnderTest("split", topology.gateway_url, base / "data"), alive, logs
        )


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.25)


def results_by_key(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {result["instance-key"]: result for result in answer["results"]}


def test_offline_serves_what_it_has_seen(short_ttl: OfflineProxy, sim: SimHandle) -> None:
    proxy = short_ttl.proxy
    hello, tiny = snap_id(sim, "hello-sim"), snap_id(sim, "tiny-tool")
    known_refresh = refresh_body(
        [
            refresh_action(hello, channel="latest/candidate"),
            refresh_action(tiny),
            install("mid-app", "install-1"),
            download("mid-app", "download-1", revision=2),
        ],
        context=[context_entry(hello, 1), context_entry(tiny, 1)],
    )
    pages = {
        "info": ("/v2/snaps/info/hello-sim", {"architecture": "amd64"}),
        "find": ("/v2/snaps/find", {"q": "hello", "channel": "stable"}),
        "sections": ("/api/v1/snaps/sections", {}),
        "names": ("/api/v1/snaps/names", {}),
    }
    info_path, info_params = pages["info"]
    with proxy.client() as client:
        # 1. Seen with the store up: pages, a refresh, one blob.
        seen = {kind: client.get(path, params=params) for kind, (path, params) in pages.items()}
        assert all(answer.status_code == 200 for answer in seen.values())
        online = client.post(REFRESH, json=known_refresh)
        assert online.status_code == 200
        online_results = results_by_key(online.json())
        blob_url = online_results[tiny]["snap"]["download"]["url"].removeprefix(proxy.url)
        blob = client.get(blob_url)
        assert blob.status_code == 200
        time.sleep(TTL + 1)  # every fresh entry has expired; only the last good ones remain

        # 2. The store goes away.
        sim.stop()
        try:
            for kind, (path, params) in pages.items():
                answer = client.get(path, params=params)
                assert answer.status_code == 200, (kind, answer.text)
                assert answer.content == seen[kind].content, kind
                assert answer.headers["content-type"] == seen[kind].headers["content-type"]
            assert client.get(info_path, params=info_params).headers["x-snapproxy-cache"] == "stale"

            offline = client.post(REFRESH, json=known_refresh)
            assert offline.status_code == 200, offline.text
            assert offline.headers["content-type"] == "application/json"
            assert offline.headers["x-snapproxy-cache"] == "offline"
            offline_results = results_by_key(offline.json())
            assert set(offline_results) == set(online_results)
            for key, result in offline_results.items():
                assert result["result"] == online_results[key]["result"]
                assert result["snap"]["revision"] == online_results[key]["snap"]["revision"]
                assert result["snap"]["download"] == online_results[key]["snap"]["download"]
            assert all(url.startswith(proxy.url + "/") for url in download_urls(offline.json()))
            # A device can still install: the blob comes from the cache.
            again = client.get(blob_url)
            assert again.status_code == 200 and sha3(again.content) == sha3(blob.content)

            # Never seen: 503 in the Store's shape (snapd retries 5xx, then reports it).
            unknown = {
                "info": client.get("/v2/snaps/info/big-app"),
                "find": client.get("/v2/snaps/find", params={"q": "big"}),
                "refresh": client.post(REFRESH, json=refresh_body([install("big-app", "i-1")])),
            }
            for kind, answer in unknown.items():
                error = assert_store_error(answer, 503)
                assert error["code"] == "upstream-unavailable", kind
            # Bad input is still 400, not a crash in the offline path.
            bad = refresh_body(
                [refresh_action(hello)], [{**context_entry(hello, 1), "tracking-channel": 5}]
            )
            assert_store_error(client.post(REFRESH, json=bad), 400)
            bad = refresh_body([install("hello-sim", "install-1", revision=2**63)])
            assert_store_error(client.post(REFRESH, json=bad), 400)
            # The suite stays healthy: the upstream check is informational.
            status = client.get("/_status/check")
            assert status.status_code == 200, status.text
        finally:
            sim.start()

        # 3. The store is back: answers are fresh again (after the breaker's cooldown).
        def fresh(path: str, **params: str) -> Callable[[], bool]:
            def check() -> bool:
                answer = client.get(path, params=params)
                return answer.status_code == 200 and answer.headers["x-snapproxy-cache"] == "miss"

            return check

        wait_until(fresh("/v2/snaps/info/big-app"), RECOVERY_TIMEOUT, "never-seen info answers")
        before = sim_requests(sim)
        info = client.get(info_path, params=info_params)
        assert info.headers["x-snapproxy-cache"] == "miss"
        assert sim_requests(sim) == before + 1
        expected = httpx.get(sim.api_url + info_path, params=info_params).json()
        assert [e["revision"] for e in info.json()["channel-map"]] == [
            e["revision"] for e in expected["channel-map"]
        ]
        back = client.post(REFRESH, json=known_refresh)
        assert back.status_code == 200 and "x-snapproxy-cache" not in back.headers

    # Nothing crashed on the way.
    assert short_ttl.alive()
    assert "request.crashed" not in short_ttl.logs()


def test_upstream_not_found_is_cached_briefly(short_ttl: OfflineProxy, sim: SimHandle) -> None:
    name = f"missing-{uuid.uuid4().hex[:12]}"
    with short_ttl.proxy.client() as client:
        before = sim_requests(sim)
        assert client.get(f"/v2/snaps/info/{name}").headers["x-snapproxy-cache"] == "miss"
        assert client.get(f"/v2/snaps/info/{name}").headers["x-snapproxy-cache"] == "hit"
        assert sim_requests(sim) == before + 1

        def asked_again() -> bool:
            answer = client.get(f"/v2/snaps/info/{name}")
            assert_store_error(answer, 404)
            return answer.headers["x-snapproxy-cache"] == "miss"

        started = time.monotonic()
        wait_until(asked_again, TTL + 3, "the 404 expires")
    assert time.monotonic() - started >= TTL - 1
