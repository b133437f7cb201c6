"""proxy.https.proxy: every upstream request, metadata and blobs alike, goes through a real
forward proxy (Debian's tinyproxy, started by the test on loopback).

The simulator is plain HTTP here, so the proxy sends each request to the forward proxy as an
absolute-URI request, which tinyproxy relays adding its ``Via`` header: the simulator counts
the requests by Via, and a request that came any other way would be counted as "direct".
(The HTTPS simulator and CONNECT: test_ca_certs.py.)
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.forwardproxy import VIA_NAME, ForwardProxy
from tests.support.proxies import DEVICE_HEADERS, EmbeddedProxy
from tests.support.proxy_cli import restart, snap_proxy
from tests.support.sim import SimHandle
from tests.support.snapclient import snap_download

# The timeout: each test starts a proxy, restarts it and runs snap-proxy and snap download.
pytestmark = [pytest.mark.realclient, pytest.mark.timeout(900)]


def test_metadata_and_blobs_go_only_through_the_forward_proxy(
    plain_sim: SimHandle, forward_proxy: ForwardProxy, tmp_path: Path
) -> None:
    proxy = EmbeddedProxy(
        tmp_path / "proxy", SNAPPROXY_HTTPS_PROXY=forward_proxy.url, **plain_sim.proxy_env()
    )
    proxy.start()
    try:
        plain_sim.reset()
        revision = plain_sim.revision("tiny-tool", 1)
        result = snap_download(proxy.url, "tiny-tool", cwd=tmp_path / "download")
        assert result.fetched_snap, result.describe()
        assert result.sha3_384 == revision["sha3-384"]

        stats = plain_sim.stats()
        assert stats["blobs"][revision["file"]]["requests"] == 1
        assert stats["requests"].get("POST /v2/snaps/refresh", 0) >= 1
        # Every request the simulator saw (API and CDN) came through the forward proxy.
        seen = sum(stats["via"].values())
        assert "direct" not in stats["via"], stats["via"]
        assert all(VIA_NAME in via for via in stats["via"]), stats["via"]
        relayed = forward_proxy.requests()
        assert len(relayed) == seen, (relayed, stats)
        ports = {request.port for request in relayed}
        assert ports == {plain_sim.api_port, plain_sim.cdn_port}
        assert any("/download-origin/" in request.target for request in relayed)
    finally:
        proxy.stop()


def test_a_stopped_forward_proxy_is_a_clear_failure(
    plain_sim: SimHandle, forward_proxy: ForwardProxy, tmp_path: Path
) -> None:
    """Set with `snap-proxy config` (kept in the config table); then the forward proxy
    stops: check-connections says so, and devices get a 503 in the Store's shape."""
    proxy = EmbeddedProxy(tmp_path / "proxy", **plain_sim.proxy_env())
    proxy.start()
    try:
        set_it = snap_proxy(proxy, "config", f"proxy.https.proxy={forward_proxy.url}")
        assert set_it.returncode == 0, set_it.output
        assert "restart" in set_it.stderr
        restart(proxy)
        checked = snap_proxy(proxy, "check-connections")
        assert checked.returncode == 0, checked.output
        assert f"forward proxy: {forward_proxy.url}: OK" in checked.stdout
        assert f"via {forward_proxy.url}: OK" in checked.stdout

        forward_proxy.stop()
        checked = snap_proxy(proxy, "check-connections")
        assert checked.returncode == 1, checked.output
        unreachable = "the forward proxy is unreachable (Connection refused)"
        assert f"forward proxy: {forward_proxy.url}: FAILED: {unreachable}" in checked.stdout
        assert (
            f"via {forward_proxy.url}: FAILED: cannot reach the upstream store: {unreachable}"
            in (checked.stdout)
        )
        cannot = next(line for line in checked.stdout.splitlines() if line.startswith("Cannot"))
        assert f"forward proxy {forward_proxy.url}" in cannot and " via " in cannot

        with httpx.Client(base_url=proxy.url, headers=DEVICE_HEADERS, timeout=60) as device:
            answer = device.get("/v2/snaps/info/mid-app")
        assert answer.status_code == 503
        (error,) = answer.json()["error-list"]
        assert error["code"] == "upstream-unavailable"
        assert unreachable in error["message"]
        assert "upstream.failed" in proxy.log() and unreachable in proxy.log()

        result = snap_download(proxy.url, "mid-app", cwd=tmp_path / "download")
        assert result.returncode != 0 and result.snap_path is None, result.describe()
    finally:
        proxy.stop()


def test_an_unreachable_forward_proxy_is_refused_and_nothing_changes(
    plain_sim: SimHandle, forward_proxy: ForwardProxy, tmp_path: Path
) -> None:
    proxy = EmbeddedProxy(tmp_path / "proxy", **plain_sim.proxy_env())
    proxy.start()
    try:
        assert snap_proxy(proxy, "config", f"proxy.https.proxy={forward_proxy.url}").returncode == 0
        forward_proxy.stop()
        dead = snap_proxy(proxy, "config", f"proxy.https.proxy={forward_proxy.url}/")
        assert dead.returncode == 1, dead.output
        assert (
            f"proxy.https.proxy: cannot reach the forward proxy {forward_proxy.url} "
            "(Connection refused)" in dead.stderr
        )
        for bad in ("ftp://127.0.0.1:3128", "http://127.0.0.1:3128/some/path", "squid:3128"):
            refused = snap_proxy(proxy, "config", f"proxy.https.proxy={bad}")
            assert refused.returncode == 2, refused.output
            assert refused.stderr.startswith("snap-proxy: error: proxy.https.proxy: ")
        shown = snap_proxy(proxy, "config", "proxy.https.proxy")
        assert shown.returncode == 0
        assert forward_proxy.url in shown.stdout and f"{forward_proxy.url}/" not in shown.stdout
    finally:
        proxy.stop()
