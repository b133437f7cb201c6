"""HTTPS proxies for the TLS tests: ``snap-proxy serve`` set up as the guide says (domain,
``import-certificate --selfsigned``), and a watcher that proves a reload drops nothing."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from shared.split import free_port
from shared.tls import client_ca
from tests.support.admin_cli import Node
from tests.support.proxies import ADMIN_TOKEN, EmbeddedProxy


def served_fingerprint(host: str, port: int) -> str:
    """SHA-256 of the certificate the server at ``host:port`` presents (not verified)."""
    der = ssl.get_server_certificate((host, port), timeout=10)
    return x509.load_pem_x509_certificate(der.encode()).fingerprint(hashes.SHA256()).hex()


def pem_fingerprint(pem: str) -> str:
    return x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256()).hex()


@dataclass
class HttpsEmbedded:
    """``snap-proxy serve`` with a self-signed certificate for ``domain``."""

    node: Node
    proxy: EmbeddedProxy
    https_port: int
    domain: str

    @property
    def https_url(self) -> str:
        return f"https://{self.domain}:{self.https_port}"

    @property
    def http_url(self) -> str:
        return self.proxy.url

    def chain(self) -> str:
        result = self.node.config("proxy.tls.cert")
        assert result.returncode == 0, result.stderr
        return result.stdout

    def ca_file(self, directory: Path) -> Path:
        """The CA clients must trust, as a file (what ``SSL_CERT_FILE`` names)."""
        ca = client_ca(self.chain())
        assert ca is not None
        path = directory / "snapproxy-ca.pem"
        path.write_text(ca)
        return path


@contextmanager
def https_embedded(
    data_dir: Path, upstream_env: dict[str, str], domain: str = "localhost"
) -> Iterator[HttpsEmbedded]:
    """A fresh node set up as the guide says, then ``snap-proxy serve``."""
    https_port = free_port()
    node = Node(data_dir)
    node.upgrade()
    node.ok(f"proxy.domain={domain}", f"proxy.port.https={https_port}", "config.poll-interval=0.5")
    made = node.run("import-certificate", "--selfsigned")
    assert made.returncode == 0, made.stderr
    proxy = EmbeddedProxy(data_dir, SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN, **upstream_env)
    proxy.start()
    try:
        yield HttpsEmbedded(node, proxy, https_port, domain)
    finally:
        proxy.stop()


@dataclass
class Watcher:
    """Requests ``url`` back to back in a thread, counting answers and failures (a reload
    must drop none)."""

    url: str
    verify: ssl.SSLContext | bool
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                # A new connection each time: every request does a handshake.
                response = httpx.get(self.url, verify=self.verify, timeout=10)
                if response.status_code == 200:
                    self.ok += 1
                else:
                    self.failures.append(f"status {response.status_code}")
            except httpx.HTTPError as exc:
                self.failures.append(repr(exc))

    @contextmanager
    def running(self) -> Iterator[Watcher]:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(30)


def trusting(*pems: str) -> ssl.SSLContext:
    """A client context that trusts ``pems`` only (any of the proxy's certificates)."""
    context = ssl.create_default_context()
    context.load_verify_locations(cadata="".join(pems))
    return context
