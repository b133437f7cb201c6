"""The split topology's nginx with a certificate: HTTPS on proxy.port.https, HTTP redirected
(301; 308 for a POST) except ``/_status/``, and a new certificate taken by a reload (SIGHUP)
without a failed request. Callers: devices (public endpoints) and health checks."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.devicegw.client_setup import DEBIAN_BUNDLE
from shared.settings import Settings
from shared.split import SplitTopology, free_port
from shared.tls import Bundle, client_ca
from shared.tls_selfsigned import self_signed
from tests.support.https_proxy import Watcher, pem_fingerprint, served_fingerprint, trusting
from tests.support.infra import running_split
from tests.support.proxies import ADMIN_TOKEN
from tests.support.sim import SimHandle
from tests.support.snapclient import snap_download

pytestmark = [
    pytest.mark.split,
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed"),
]
HTTPS_PORT = free_port()


def tls_env(bundle: Bundle) -> dict[str, str]:
    return {
        "SNAPPROXY_TLS_CERT": bundle.chain_pem,
        "SNAPPROXY_TLS_KEY": bundle.key_pem,
        "SNAPPROXY_PORT_HTTPS": str(HTTPS_PORT),
        "SNAPPROXY_DOMAIN": "localhost",
        "SNAPPROXY_PUBLIC_URL": f"https://localhost:{HTTPS_PORT}",
    }


@pytest.fixture(scope="module")
def first() -> Bundle:
    return self_signed("localhost")


@pytest.fixture(scope="module")
def topology(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle, first: Bundle
) -> Iterator[SplitTopology]:
    base = tmp_path_factory.mktemp("https-split")
    with running_split(
        base / "run",
        base / "data",
        {**upstream.proxy_env(), **tls_env(first)},
        SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN,
    ) as running:
        yield running


def test_nginx_serves_https_with_the_certificate(topology: SplitTopology, first: Bundle) -> None:
    assert topology.https_port == HTTPS_PORT
    context = trusting(first.chain_pem)
    url = f"https://localhost:{HTTPS_PORT}"
    assert httpx.get(f"{url}/_status/check", verify=context, timeout=30).status_code == 200
    script = httpx.get(f"{url}/client-setup.sh", verify=context, timeout=30)
    assert script.status_code == 200
    assert f"SNAPPY_FORCE_API_URL={url}/" in script.text
    key = (topology.workdir / "tls" / "proxy.key").stat()
    assert key.st_mode & 0o077 == 0  # the key file is its owner's only


def test_nginx_redirects_http_but_keeps_health_checks(topology: SplitTopology) -> None:
    with httpx.Client(base_url=topology.gateway_url, timeout=30) as client:
        info = client.get("/v2/snaps/info/hello-sim?fields=revision")
        assert info.status_code == 301
        assert info.headers["location"] == (
            f"https://127.0.0.1:{HTTPS_PORT}/v2/snaps/info/hello-sim?fields=revision"
        )
        refresh = client.post("/v2/snaps/refresh", json={"context": [], "actions": []})
        assert refresh.status_code == 308
        assert client.get("/_status/ping").status_code == 200
        assert client.get("/_status/check").status_code == 200
        assert client.get("/_status/downloads/ping").status_code == 200


def test_a_new_certificate_is_taken_by_a_reload(topology: SplitTopology, tmp_path: Path) -> None:
    second = self_signed("localhost")
    nginx = topology.nginx
    watcher = Watcher(f"https://localhost:{HTTPS_PORT}/_status/ping", verify=False)
    with watcher.running():
        time.sleep(1)
        topology.reload_gateway(
            host=topology.gateway_host,
            port=topology.gateway_port,
            trust_forwarded_proto=False,
            settings=Settings.model_validate(
                {
                    "tls_cert": second.chain_pem,
                    "tls_key": second.key_pem,
                    "port_https": HTTPS_PORT,
                    "domain": "localhost",
                    "data_dir": tmp_path,
                }
            ),
        )
        deadline = time.monotonic() + 30
        while served_fingerprint("localhost", HTTPS_PORT) != pem_fingerprint(second.chain_pem):
            assert time.monotonic() < deadline, "nginx did not serve the new certificate"
            time.sleep(0.2)
        time.sleep(1)
    assert topology.nginx is nginx and nginx is not None and nginx.poll() is None
    assert watcher.failures == []
    assert watcher.ok > 5


def test_the_real_client_downloads_through_nginx_over_https(
    topology: SplitTopology, sim: SimHandle, tmp_path: Path
) -> None:
    current = (topology.workdir / "tls" / "proxy.crt").read_text()  # what nginx serves now
    ca = client_ca(current)
    assert ca is not None
    bundle = tmp_path / "ca.pem"
    bundle.write_text(ca)
    url = f"https://localhost:{HTTPS_PORT}/"
    trusted = snap_download(
        url, "hello-sim", cwd=tmp_path / "trusted", extra_env={"SSL_CERT_FILE": str(bundle)}
    )
    assert trusted.stopped_at_trust_check, trusted.describe()
    assert trusted.sha3_384 == sim.revision("hello-sim", 1)["sha3-384"]
    untrusted = snap_download(
        url, "hello-sim", cwd=tmp_path / "untrusted", extra_env={"SSL_CERT_FILE": DEBIAN_BUNDLE}
    )
    assert untrusted.snap_path is None
    assert "x509: certificate signed by unknown authority" in (untrusted.error or "")
