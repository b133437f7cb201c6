"""The real snap client over HTTPS (Go's TLS, which honours ``SSL_CERT_FILE``), against
``snap-proxy serve`` set up as the guide says: ``proxy.domain``, ``import-certificate
--selfsigned``, then ``client-setup.sh`` on a client (a temporary root for its CA store).

With the simulator upstream, ``snap download`` ends at the assertion trust check after the
blob (its root key is not Canonical's): "works" means the blob came through the proxy over
HTTPS with the right sha3-384, as in tests/proxy/test_real_client.py."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.devicegw.client_setup import DEBIAN_BUNDLE, DEBIAN_CA, DROPIN
from shared.tls import client_ca
from tests.support.https_proxy import (
    HttpsEmbedded,
    https_embedded,
    pem_fingerprint,
    served_fingerprint,
)
from tests.support.sim import SimHandle
from tests.support.snapclient import SnapDownloadResult, snap_download

UNKNOWN_AUTHORITY = "x509: certificate signed by unknown authority"


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[HttpsEmbedded]:
    with https_embedded(tmp_path_factory.mktemp("https-client"), upstream.proxy_env()) as proxy:
        yield proxy


def client_setup(served: HttpsEmbedded, root: Path) -> Path:
    """``curl -sk https://DOMAIN/client-setup.sh | sudo sh`` on a client whose / is ``root``;
    the CA bundle the client's Go programs then read."""
    # -k, as the guide's `curl -sk`: the client does not trust the proxy yet.
    script = httpx.get(f"{served.https_url}/client-setup.sh", verify=False, timeout=30)
    assert script.status_code == 200, script.text
    root.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["sh"],
        input=script.text,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SNAPPROXY_CLIENT_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installed the proxy's CA in the system store" in done.stdout
    return root / DEBIAN_BUNDLE.lstrip("/")


def forced_url(root: Path) -> str:
    """SNAPPY_FORCE_API_URL as the script's systemd drop-in sets it."""
    dropin = (root / DROPIN.lstrip("/")).read_text()
    match = re.search(r"^Environment=SNAPPY_FORCE_API_URL=(\S+)$", dropin, re.MULTILINE)
    assert match, dropin
    return match[1]


def download(url: str, bundle: Path, directory: Path) -> SnapDownloadResult:
    return snap_download(url, "hello-sim", cwd=directory, extra_env={"SSL_CERT_FILE": str(bundle)})


def test_fresh_setup_then_client_setup_gives_a_working_download(
    served: HttpsEmbedded, sim: SimHandle, tmp_path: Path
) -> None:
    bundle = client_setup(served, tmp_path / "client")
    ca = client_ca(served.chain())
    assert ca is not None
    assert (tmp_path / "client" / DEBIAN_CA.lstrip("/")).read_text().strip() == ca.strip()
    assert ca.strip() in bundle.read_text()
    url = forced_url(tmp_path / "client")
    assert url == f"{served.https_url}/"
    result = download(url, bundle, tmp_path / "download")
    assert result.stopped_at_trust_check, result.describe()
    assert result.revision == 1
    assert result.sha3_384 == sim.revision("hello-sim", 1)["sha3-384"]


def test_a_client_without_the_ca_gets_unknown_authority(
    served: HttpsEmbedded, tmp_path: Path
) -> None:
    # The machine's own store: public CAs, not the proxy's.
    result = download(f"{served.https_url}/", Path(DEBIAN_BUNDLE), tmp_path / "download")
    assert result.returncode != 0
    assert result.snap_path is None
    assert UNKNOWN_AUTHORITY in (result.error or ""), result.describe()


def test_a_client_still_on_http_is_redirected_and_keeps_working(
    served: HttpsEmbedded, sim: SimHandle, tmp_path: Path
) -> None:
    """snapd POSTs its refresh: the HTTP port's 308 makes Go send it again, body and all,
    to HTTPS (a 301 would turn it into a GET)."""
    bundle = served.ca_file(tmp_path)
    http_url = f"http://{served.domain}:{served.proxy.port}/"  # the redirect keeps the name
    result = download(http_url, bundle, tmp_path / "download")
    assert result.stopped_at_trust_check, result.describe()
    assert result.sha3_384 == sim.revision("hello-sim", 1)["sha3-384"]


def test_a_name_the_certificate_does_not_cover_is_refused(
    served: HttpsEmbedded, tmp_path: Path
) -> None:
    """The guide's "certificate is valid for A, not B": proxy.domain (hence the
    certificate) changed, and the client still uses the old name. Run last: it changes the
    module's proxy, and puts it back."""
    try:
        served.node.ok("proxy.domain=snaps.example.test")
        assert served.node.run("import-certificate", "--selfsigned").returncode == 0
        chain = served.chain()
        deadline = time.monotonic() + 60
        while served_fingerprint("localhost", served.https_port) != pem_fingerprint(chain):
            assert time.monotonic() < deadline, "the new certificate was not served in 60 s"
            time.sleep(0.2)
        ca = client_ca(chain)
        assert ca is not None
        bundle = tmp_path / "ca.pem"
        bundle.write_text(ca)  # trusted: only the name is wrong
        result = download(f"{served.https_url}/", bundle, tmp_path / "download")
        assert result.returncode != 0
        assert "x509: certificate is valid for snaps.example.test, not localhost" in (
            result.error or ""
        ), result.describe()
    finally:
        served.node.ok("proxy.domain=localhost")
        assert served.node.run("import-certificate", "--selfsigned").returncode == 0
