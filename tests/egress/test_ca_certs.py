"""use-ca-certs and remove-ca-certs, for an upstream behind TLS inspection: the simulator in
HTTPS mode presents certificates of a CA of its own, reached through a real forward proxy
(tinyproxy) with CONNECT. Without its CA the proxy refuses the upstream, with a clear
certificate error in check-connections, in the log and (a 503 in the Store's shape) to
devices; with it, the real `snap download` works.

With CONNECT the forward proxy sees only host and port and TLS runs end to end, so no Via
header proves the way: the simulator counts the connections requests came on, and each
CONNECT tinyproxy relays is one connection, so the two counts match only when every
connection came through tinyproxy.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.forwardproxy import ForwardProxy
from tests.support.proxies import DEVICE_HEADERS, EmbeddedProxy
from tests.support.proxy_cli import restart, snap_proxy
from tests.support.sim import SimHandle
from tests.support.snapclient import snap_download

# The timeout: each test restarts a proxy and runs snap-proxy and snap download several
# times: minutes on a loaded machine.
pytestmark = [pytest.mark.realclient, pytest.mark.timeout(900)]

UNTRUSTED = "the upstream's TLS certificate is not trusted: unable to get local issuer certificate"


def device_get(proxy: EmbeddedProxy, path: str) -> httpx.Response:
    with httpx.Client(base_url=proxy.url, headers=DEVICE_HEADERS, timeout=60) as device:
        return device.get(path)


def assert_store_503(answer: httpx.Response, says: str) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    (error,) = answer.json()["error-list"]
    assert error["code"] == "upstream-unavailable"
    assert says in error["message"]


def test_an_inspected_upstream_needs_its_ca(
    tls_sim: SimHandle, forward_proxy: ForwardProxy, tmp_path: Path
) -> None:
    proxy = EmbeddedProxy(tmp_path / "proxy", **tls_sim.proxy_env())
    proxy.start()
    try:
        assert snap_proxy(proxy, "config", f"proxy.https.proxy={forward_proxy.url}").returncode == 0
        restart(proxy)
        tls_sim.reset()

        # Not trusted: check-connections, the devices, the log.
        checked = snap_proxy(proxy, "check-connections")
        assert checked.returncode == 1, checked.output
        assert f"forward proxy: {forward_proxy.url}: OK" in checked.stdout
        assert f"http: {tls_sim.api_url} via {forward_proxy.url}: FAILED: " in checked.stdout
        assert UNTRUSTED in checked.stdout and "snap-proxy use-ca-certs" in checked.stdout
        assert_store_503(device_get(proxy, "/v2/snaps/info/tiny-tool"), UNTRUSTED)
        assert UNTRUSTED in proxy.log()
        refused = snap_download(proxy.url, "tiny-tool", cwd=tmp_path / "untrusted")
        assert refused.returncode != 0 and refused.snap_path is None, refused.describe()
        # It went the right way and failed at the handshake: CONNECTs, no request answered.
        assert {r.method for r in forward_proxy.requests()} == {"CONNECT"}
        assert tls_sim.stats()["requests"] == {}

        # Garbage on stdin: refused, nothing stored.
        for garbage in ("not a certificate\n", "-----BEGIN CERTIFICATE-----\nAAAA\n"):
            bad = snap_proxy(proxy, "use-ca-certs", stdin=garbage)
            assert bad.returncode == 2, bad.output
            assert bad.stderr.startswith("snap-proxy: error: upstream.ca-certs: is not a PEM")
        empty = snap_proxy(proxy, "use-ca-certs", stdin="")
        assert empty.returncode == 2 and "standard input is empty" in empty.stderr
        shown = snap_proxy(proxy, "config", "upstream.ca-certs")
        assert "(the default CA store)" in shown.stdout

        # The inspecting CA given: trusted, and every connection through the forward proxy.
        used = snap_proxy(proxy, "use-ca-certs", stdin=tls_sim.ca_path.read_text())
        assert used.returncode == 0, used.output
        assert "checked against 1 CA(s)" in used.stdout and "snap-store-sim test CA" in used.stdout
        assert "takes effect when the services restart" in used.stderr
        restart(proxy)
        checked = snap_proxy(proxy, "check-connections")
        assert checked.returncode == 0, checked.output
        assert f"http: {tls_sim.api_url} via {forward_proxy.url}: OK" in checked.stdout
        before = len(forward_proxy.requests())
        tls_sim.reset()
        revision = tls_sim.revision("tiny-tool", 1)
        result = snap_download(proxy.url, "tiny-tool", cwd=tmp_path / "trusted")
        assert result.fetched_snap and result.sha3_384 == revision["sha3-384"], result.describe()
        stats = tls_sim.stats()
        assert stats["blobs"][revision["file"]]["requests"] == 1
        relayed = forward_proxy.requests()[before:]
        assert {r.method for r in relayed} == {"CONNECT"}
        assert {r.port for r in relayed} == {tls_sim.api_port, tls_sim.cdn_port}
        assert sum(stats["connections"].values()) == len(relayed), (stats, relayed)

        # Back to the default store: not trusted again.
        removed = snap_proxy(proxy, "remove-ca-certs")
        assert removed.returncode == 0, removed.output
        assert "default CA store" in removed.stdout
        assert "(the default CA store)" in snap_proxy(proxy, "config", "upstream.ca-certs").stdout
        restart(proxy)
        checked = snap_proxy(proxy, "check-connections")
        assert checked.returncode == 1 and UNTRUSTED in checked.stdout, checked.output
        assert_store_503(device_get(proxy, "/v2/snaps/info/mid-app"), UNTRUSTED)
    finally:
        proxy.stop()


def test_without_a_forward_proxy_the_ca_is_needed_too(tls_sim: SimHandle, tmp_path: Path) -> None:
    """The CA setting stands on its own: a direct https upstream, and blobs from its CDN."""
    proxy = EmbeddedProxy(tmp_path / "proxy", **tls_sim.proxy_env())
    proxy.start()
    try:
        assert_store_503(device_get(proxy, "/v2/snaps/info/hello-sim"), UNTRUSTED)
        used = snap_proxy(proxy, "use-ca-certs", stdin=tls_sim.ca_path.read_text())
        assert used.returncode == 0, used.output
        restart(proxy)
        tls_sim.reset()
        revision = tls_sim.revision("hello-sim", 1)
        result = snap_download(proxy.url, "hello-sim", cwd=tmp_path / "download")
        assert result.fetched_snap and result.sha3_384 == revision["sha3-384"], result.describe()
        stats = tls_sim.stats()
        assert stats["blobs"][revision["file"]]["requests"] == 1
        assert stats["via"] == {"direct": sum(stats["via"].values())}
    finally:
        proxy.stop()


def test_a_forward_proxy_that_refuses_the_connect_says_so(
    tls_sim: SimHandle, tmp_path: Path
) -> None:
    """A forward proxy whose allow-list lacks the upstream (tinyproxy allowing CONNECT to
    port 443 only); the two keys from the environment this time."""
    with ForwardProxy(tmp_path / "forward-proxy", connect_ports=(443,)) as forward_proxy:
        proxy = EmbeddedProxy(
            tmp_path / "proxy",
            SNAPPROXY_HTTPS_PROXY=forward_proxy.url,
            SNAPPROXY_UPSTREAM_CA_CERTS=tls_sim.ca_path.read_text(),
            **tls_sim.proxy_env(),
        )
        proxy.start()
        tls_sim.reset()
        try:
            refused = "the forward proxy refused the connection (403 Access violation)"
            checked = snap_proxy(proxy, "check-connections")
            assert checked.returncode == 1, checked.output
            assert f"forward proxy: {forward_proxy.url}: OK" in checked.stdout
            assert (
                f"via {forward_proxy.url}: FAILED: cannot reach the upstream store: {refused}"
                in (checked.stdout)
            )
            assert_store_503(device_get(proxy, "/v2/snaps/info/tiny-tool"), refused)
            assert [r.method for r in forward_proxy.requests()][:1] == ["CONNECT"]
            assert tls_sim.stats()["connections"] == {}
        finally:
            proxy.stop()
