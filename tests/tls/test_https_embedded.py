"""``snap-proxy serve`` with a certificate (the embedded default): HTTPS on proxy.port.https,
HTTP redirected (301; 308 for a POST) except ``/_status/``, and a new certificate loaded
without a restart and without a failed request. Callers: devices (public endpoints) and
health checks."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.https_proxy import (
    HttpsEmbedded,
    Watcher,
    https_embedded,
    pem_fingerprint,
    served_fingerprint,
    trusting,
)
from tests.support.proxies import ADMIN_TOKEN
from tests.support.sim import SimHandle


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[HttpsEmbedded]:
    with https_embedded(tmp_path_factory.mktemp("https"), upstream.proxy_env()) as proxy:
        yield proxy


def test_https_answers_with_the_imported_certificate(served: HttpsEmbedded) -> None:
    chain = served.chain()
    context = trusting(chain)
    response = httpx.get(f"{served.https_url}/_status/check", verify=context, timeout=30)
    assert response.status_code == 200, response.text
    assert served_fingerprint("localhost", served.https_port) == pem_fingerprint(chain)
    script = httpx.get(f"{served.https_url}/client-setup.sh", verify=context, timeout=30)
    assert "SNAPPY_FORCE_API_URL=" + served.https_url + "/" in script.text


def test_http_redirects_to_https_but_health_checks_stay(served: HttpsEmbedded) -> None:
    with httpx.Client(base_url=served.http_url, timeout=30) as client:
        info = client.get("/v2/snaps/info/hello-sim?fields=revision")
        assert info.status_code == 301
        assert info.headers["location"] == (
            f"https://127.0.0.1:{served.https_port}/v2/snaps/info/hello-sim?fields=revision"
        )
        refresh = client.post("/v2/snaps/refresh", json={"context": [], "actions": []})
        assert refresh.status_code == 308  # a POST keeps its method and body
        assert refresh.headers["location"].startswith(f"https://127.0.0.1:{served.https_port}/")
        named = client.get("/client-setup.sh", headers={"Host": "localhost:1234"})
        assert named.headers["location"] == f"{served.https_url}/client-setup.sh"
        assert client.get("/_status/ping").status_code == 200
        assert client.get("/_status/check").status_code == 200


def test_a_new_certificate_is_served_without_a_restart(served: HttpsEmbedded) -> None:
    before = served.chain()
    process = served.proxy.process
    watcher = Watcher(f"https://localhost:{served.https_port}/_status/ping", verify=False)
    with watcher.running():
        time.sleep(1)
        assert served.node.run("import-certificate", "--selfsigned").returncode == 0
        after = served.chain()
        assert pem_fingerprint(after) != pem_fingerprint(before)
        deadline = time.monotonic() + 60
        while served_fingerprint("localhost", served.https_port) != pem_fingerprint(after):
            assert time.monotonic() < deadline, "the new certificate was not served in 60 s"
            time.sleep(0.2)
        time.sleep(1)
    assert process is not None and process.poll() is None  # the same process
    assert watcher.failures == []
    assert watcher.ok > 5
    assert "tls.reloaded" in served.proxy.log()


def test_granian_cannot_serve_a_certificate(served: HttpsEmbedded) -> None:
    result = served.node.run("serve", "--server", "granian", spawn=True)
    assert result.returncode == 2
    assert "granian cannot reload a certificate" in result.stderr


def test_status_checks_the_front_door_over_https(served: HttpsEmbedded) -> None:
    port = str(served.proxy.port)
    result = served.node.run("status", SNAPPROXY_PORT=port, COLUMNS="200")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "gateway: running (in-process: snap-proxy serve, no nginx)" in lines
    try:
        # proxy.domain changed, the certificate not re-imported: what clients will see.
        served.node.ok("proxy.domain=snaps.example.test")
        result = served.node.run("status", SNAPPROXY_PORT=port, COLUMNS="200")
        assert result.returncode == 1
        lines = [line.strip() for line in result.stdout.splitlines()]
        line = next(line for line in lines if line.startswith("gateway:"))
        assert line == (
            "gateway: not running: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
            "Hostname mismatch, certificate is not valid for 'snaps.example.test'."
        )
    finally:
        served.node.ok("proxy.domain=localhost")
    down = served.node.run("status", SNAPPROXY_PORT="1", SNAPPROXY_PORT_HTTPS="1")
    assert down.returncode == 1
    assert "nginx: not running: [Errno 111] Connection refused" in down.stdout


def test_the_dashboard_cookie_is_secure_over_https(served: HttpsEmbedded) -> None:
    """The admin signs in to /dashboard/ over HTTPS: the session cookie is Secure (and
    HttpOnly, SameSite=Strict); over HTTP the dashboard redirects to HTTPS first."""
    with httpx.Client(base_url=served.http_url, timeout=30) as plain:
        assert plain.get("/dashboard/login").status_code == 301
    context = trusting(served.chain())
    with httpx.Client(base_url=served.https_url, verify=context, timeout=30) as client:
        form = client.get("/dashboard/login")
        assert form.status_code == 200
        assert "; secure" in form.headers["set-cookie"].lower()
        csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        signed = client.post("/dashboard/login", data={"csrf": csrf, "token": ADMIN_TOKEN})
        assert signed.status_code == 303, signed.text
        cookie = signed.headers["set-cookie"].lower()
        assert "; secure" in cookie and "; httponly" in cookie and "samesite=strict" in cookie
        assert client.get("/dashboard/").status_code == 200
