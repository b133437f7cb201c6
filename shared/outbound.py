"""How the proxy reaches the upstream: through a forward proxy, trusting which CAs.

Every client that talks to the upstream (the metadata client in ``shared.upstream``, the
blob fetches of the downloads service, ``check-connections``) is built from one
:class:`Outbound`, so metadata and blobs take the same way out:

- ``proxy.https.proxy`` (``http://[user:password@]host:port``): every upstream request goes
  through that forward proxy. An ``https://`` upstream or CDN is reached with ``CONNECT``
  (the forward proxy sees only the host and port; TLS runs end to end); a plain ``http://``
  one (the simulator in its default mode) is sent to the forward proxy as an absolute-URI
  request, which the forward proxy relays. Unset: the environment's ``https_proxy`` /
  ``HTTPS_PROXY`` (and ``no_proxy``) are honoured, as httpx does.
- ``upstream.ca-certs`` (set by ``snap-proxy use-ca-certs``): the PEM bundle of the only CAs
  trusted for the upstream's certificates (an upstream behind TLS inspection presents
  certificates its inspecting proxy signs). Unset: the default store (``SSL_CERT_FILE`` or
  ``SSL_CERT_DIR`` when set, else the Mozilla bundle of ``certifi``).

Failures are told apart (:func:`failure_reason`): a certificate that is not trusted, a
forward proxy that cannot be reached or refuses, a timeout.
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from shared.settings import Settings

_VERIFY_FAILED = re.compile(r"certificate verify failed: ([^(]+?)\s*(?:\(_ssl\.c:\d+\))?$")
USE_CA_CERTS_HINT = (
    "if a TLS-inspecting proxy re-signs the upstream's certificates, give its CA with "
    "`snap-proxy use-ca-certs < ca.pem`"
)


def proxy_label(url: str) -> str:
    """The forward proxy's URL without its credentials, for logs and messages."""
    parts = httpx.URL(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.host}{port}"


@dataclass(frozen=True)
class Outbound:
    """The way out to the upstream: a forward proxy (or none) and the trusted CAs."""

    forward_proxy: str | None = None
    ca_certs: str | None = None  # PEM bundle; None: the default store

    @classmethod
    def from_settings(cls, settings: Settings) -> Outbound:
        return cls(settings.https_proxy or None, settings.upstream_ca_certs or None)

    @property
    def proxy_label(self) -> str | None:
        return proxy_label(self.forward_proxy) if self.forward_proxy else None

    def ssl_context(self) -> ssl.SSLContext | bool:
        """An SSL context trusting only ``ca_certs``; True (httpx's default store) without."""
        if not self.ca_certs:
            return True
        return ssl.create_default_context(cadata=self.ca_certs)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of ``httpx.AsyncClient`` for a client that talks upstream."""
        options: dict[str, Any] = {"verify": self.ssl_context()}
        if self.forward_proxy:
            options["proxy"] = self.forward_proxy
        return options

    def failure_reason(self, exc: httpx.HTTPError) -> str:
        """Why an upstream call failed, in one line that names no URL."""
        return failure_reason(exc, via_proxy=self.forward_proxy is not None)


def certificate_problem(exc: BaseException) -> str | None:
    """OpenSSL's reason when ``exc`` is a failed certificate check, else None."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return str(cause.verify_message or cause.reason or "certificate verify failed")
        cause = cause.__cause__ or cause.__context__
    match = _VERIFY_FAILED.search(str(exc))
    return match[1].strip() if match else None


def failure_reason(exc: httpx.HTTPError, *, via_proxy: bool) -> str:
    """A timeout, an untrusted certificate, a forward proxy down or refusing, or the kind of
    transport error; never the URL httpx puts in some messages."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    problem = certificate_problem(exc)
    if problem is not None:
        return f"the upstream's TLS certificate is not trusted: {problem}; {USE_CA_CERTS_HINT}"
    if isinstance(exc, httpx.ProxyError):
        return f"the forward proxy refused the connection ({str(exc).strip() or 'ProxyError'})"
    if via_proxy and isinstance(exc, httpx.ConnectError):
        return f"the forward proxy is unreachable ({_connect_reason(exc)})"
    errno = _errno(exc)
    if errno is not None:  # the operating system's words: [Errno 111] Connection refused
        return f"[Errno {errno}] {os.strerror(errno)}"
    return type(exc).__name__


def _errno(exc: BaseException) -> int | None:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno:
            return cause.errno
        cause = cause.__cause__ or cause.__context__
    return None


def _connect_reason(exc: httpx.ConnectError) -> str:
    """The operating system's reason (``Connection refused``), found down the causes."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno)
        cause = cause.__cause__ or cause.__context__
    text = str(exc).strip()
    return text.splitlines()[0] if text else "ConnectError"
