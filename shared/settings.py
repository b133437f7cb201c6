"""Settings for every service, read from ``SNAPPROXY_*`` environment variables.

Settings are built inside ``create_app()`` or a CLI command, never at import time.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from shared.assertions.roots import CANONICAL, TrustedRootError, read_trusted_roots

SERVICE_NAMES: tuple[str, ...] = ("auth", "devicegw", "revisions", "assertions", "downloads")

_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


class ConfigError(Exception):
    """A setting has a value that cannot work; the message names the setting."""


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)


MIB = 1024 * 1024
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK_PROXIES = "127.0.0.0/8,::1/128"


@lru_cache(maxsize=16)
def parse_networks(text: str, setting: str) -> tuple[IPNetwork, ...]:
    """``10.0.0.0/8, 192.0.2.7`` -> networks; ``none`` or empty -> (); ConfigError naming
    ``setting`` otherwise."""
    if text.strip().lower() in ("", "none"):
        return ()
    networks = []
    for item in text.split(","):
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"{setting} has {item.strip()!r}; use addresses or CIDRs such as "
                "127.0.0.1/32,10.0.0.0/8 (or `none`)"
            ) from None
    return tuple(networks)


def parse_cache_size(text: str, setting: str) -> int | None:
    """A cache cap: a bare number is MiB (the Snap Store Proxy's proxy.cache.size is in MB),
    else a size as :func:`parse_size` reads it; None (no cap) for empty or zero."""
    stripped = text.strip()
    if not stripped:
        return None
    size = int(stripped) * MIB if stripped.isdigit() else parse_size(stripped, setting)
    return size or None


def parse_size(text: str, setting: str) -> int:
    """``50GiB``, ``500MB``, ``1024`` -> bytes; ConfigError naming ``setting`` otherwise."""
    match = _SIZE.match(text)
    if match is None:
        raise ConfigError(f"{setting} has {text!r}; use a size such as 50GiB, 500MB or 1048576")
    number, unit = float(match[1]), (match[2] or "").upper()
    base = 1024 if "I" in unit else 1000
    power = "BKMGT".index(unit[0]) if unit else 0
    return int(number * base**power) if unit and unit[0] != "B" else int(number)


class Settings(BaseSettings):
    """Everything a snapproxy process can be told from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="SNAPPROXY_", extra="ignore", env_ignore_empty=True
    )

    database_url: str | None = Field(
        default=None,
        description="the database: `postgresql://user:password@host:5432/db` or "
        "`sqlite:///path`; unset: SQLite at `$SNAPPROXY_DATA_DIR/snapproxy.db`",
    )
    memcached: str = Field(
        default="memory",
        description="memcached servers, `host:port,host:port` (or a JSON list of them), or "
        "`memory` (an in-process LRU, one per process)",
    )
    upstream_url: str = Field(default="https://api.snapcraft.io", description="the store to relay")
    public_url: str | None = Field(
        default=None,
        description="the URL clients reach the proxy at, used in the download URLs it hands "
        "out; unset: `http://` + proxy.domain (+ `:` proxy.port.http unless 80), else the host "
        "the client asked for",
    )
    domain: str | None = Field(
        default=None,
        description="the proxy's public name or address (no scheme, no port); download URLs "
        "point at it when no public URL is set",
    )
    data_dir: Path = Field(
        default=Path("./var"),
        description="SQLite database, download cache, and the bootstrap file "
        "(`bootstrap.yaml`, which holds the database connection)",
    )
    host: str = Field(
        default="127.0.0.1",
        description="address `snap-proxy serve` and the gateway of `snap-proxy run-split` "
        "listen on",
    )
    port: int = Field(
        default=8000,
        ge=1,
        le=65535,
        description="HTTP port `snap-proxy serve` and the gateway of `snap-proxy run-split` "
        "listen on",
    )
    port_https: int = Field(
        default=443,
        ge=1,
        le=65535,
        description="HTTPS port `snap-proxy serve` and the gateway of `snap-proxy run-split` "
        "serve on once a certificate is imported (proxy.tls.cert and proxy.tls.key); the "
        "HTTP port then redirects to it",
    )
    https_proxy: str | None = Field(
        default=None,
        description="forward proxy every upstream request goes through, metadata and blobs "
        "alike, e.g. `http://squid.internal:3128` (`http://user:password@host:port` when it "
        "asks for credentials): CONNECT for an https upstream. Unset: the services' "
        "`https_proxy` environment variable, if any, is honoured",
    )
    upstream_ca_certs: str | None = Field(
        default=None,
        description="PEM bundle of the only CAs trusted for the upstream's TLS certificates "
        "(an upstream behind a TLS-inspecting proxy); set with `snap-proxy use-ca-certs`, "
        "cleared with `remove-ca-certs`. Unset: the default store (SSL_CERT_FILE or "
        "SSL_CERT_DIR if set, else the Mozilla bundle snapproxy ships with)",
    )
    tls_cert: str | None = Field(
        default=None,
        description="PEM certificate chain (the leaf first) the proxy serves HTTPS with; set "
        "by `snap-proxy import-certificate`; empty, with proxy.tls.key: HTTP only",
    )
    tls_key: SecretStr | None = Field(
        default=None,
        description="PEM private key of proxy.tls.cert (unencrypted); set by `snap-proxy "
        "import-certificate`",
    )
    key_private: SecretStr | None = Field(
        default=None,
        description="the proxy's identity key (PEM RSA private key), made by `snap-proxy register`",
    )
    key_public: str | None = Field(
        default=None,
        description="the public half of proxy.key.private (OpenSSH), registered upstream",
    )
    store_id: str | None = Field(
        default=None,
        description="the Store ID the upstream gave at `snap-proxy register`; unset: not "
        "registered",
    )
    store_url: str | None = Field(
        default=None,
        description="the URL the store assertion points devices at (set by register)",
    )
    store_assertions: str | None = Field(
        default=None,
        description="the store assertion and its account-key bundle, as the upstream signed "
        "them at `snap-proxy register` (served byte-exact at /v2/auth/store/assertions)",
    )
    report_interval: float = Field(
        default=3600.0,
        ge=1,
        le=86400,
        description="seconds between two reports of a registered proxy to its parent "
        "snapproxy (its connected devices and other clients); it also reports at start and "
        "once registered",
    )
    device_limit: int | None = Field(
        default=None,
        ge=0,
        description="how many devices the proxy serves at once (devices by serial with a "
        "session in the last 24 hours): a new device beyond it is refused a session (403 "
        "`device-limit-reached`), known devices keep theirs; empty or 0: no limit",
    )
    airgap: bool = Field(
        default=False,
        description="`true`: airgap mode, an offline store. The device API answers from "
        "imported snaps only (`snap-proxy push-snap`) and never contacts the upstream; what "
        "was not imported is not found. `false`: the upstream is relayed (docs/offline.md)",
    )
    trust_forwarded_proto: bool = Field(
        default=False,
        description="`true`: the scheme of the URLs the proxy hands out comes from the "
        "request's `X-Forwarded-Proto` (a load balancer in front of the proxy terminates "
        "TLS), whoever sent it; `false`: only from proxies in SNAPPROXY_TRUSTED_PROXIES",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="bearer token of the admin API (`/v1/...`) and the `cache` commands; "
        "unset: no access",
    )
    internal_secret: SecretStr | None = Field(
        default=None,
        description="credential of every call between the services "
        "(`Snapproxy-Internal-Secret`); unset: the first process to start generates one "
        "and keeps it in the database, and every process loads it from there",
    )
    trusted_proxies: str | None = Field(
        default=None,
        description="addresses or CIDRs (or `none`) of proxies whose `X-Forwarded-For`/"
        "`-Host`/`-Proto` are believed, and then only the last value; unset: the command's "
        "default (`serve-service`: loopback, `127.0.0.0/8,::1/128`; `serve`: none)",
    )
    service_urls: dict[str, str] = Field(
        default_factory=lambda: {name: f"http://{name}:8000" for name in SERVICE_NAMES},
        description="JSON map of service to base URL, for the suite health check (the "
        "split topology and compose set it)",
    )
    log_format: Literal["console", "json"] = Field(
        default="console", description="`console` or `json` (one object a line)"
    )
    log_level: str = Field(
        default="info", description="`debug`, `info`, `warning`, `error` or `critical`"
    )
    check_timeout: float = Field(
        default=2.0, gt=0, description="seconds each health check may take"
    )
    upstream_timeout: float = Field(
        default=6.0,
        gt=0,
        description="total seconds for one upstream metadata call (snapd gives up at 10)",
    )
    assertion_ttl: float = Field(
        default=3600.0,
        ge=0,
        description="seconds a stored assertion is served without asking upstream",
    )
    trusted_root_keys: str = Field(
        default=CANONICAL,
        description="account-keys a stored assertion must chain up to: comma-separated "
        "`canonical` (Canonical's root key, shipped with snapproxy) or paths of files of "
        "account-key assertions, or inline assertion text",
    )
    info_ttl: int = Field(default=60, ge=0, description="seconds info and find answers are cached")
    overrides_max_age: float = Field(
        default=2.0,
        gt=0,
        le=5,
        description="seconds a devicegw process answers from the overrides it last read "
        "before reading them again (a change is seen at once through the shared cache, and "
        "by every replica within this time without it)",
    )
    catalog_ttl: int = Field(
        default=3600, ge=0, description="seconds sections and names answers are cached"
    )
    not_found_ttl: int = Field(default=30, ge=0, description="seconds upstream 404s are cached")
    stale_ttl: int = Field(
        default=7 * 86400,
        ge=0,
        description="seconds a last good answer is kept, for when the upstream is away",
    )
    cache_max_size: str | None = Field(
        default=None,
        description="download cache cap: a bare number is MB (MiB, as the Snap Store Proxy's "
        "proxy.cache.size), or a size such as `50GiB`; empty or 0: no cap. Least recently "
        "used blobs are evicted",
    )
    cache_min_free: str = Field(
        default="512MiB", description="free disk space the download cache always leaves"
    )
    cdn_hosts: str = Field(
        default="*.snapcraftcontent.com",
        description="where the upstream's blob URLs and redirects may point besides the "
        "upstream's own origin: comma-separated host patterns (`*.example.com`, meaning https "
        "on port 443) or origins with a scheme and port (`http://10.0.0.5:8080`)",
    )
    max_snap_size: str = Field(
        default="16GiB",
        description="a revision the upstream says is larger is not recorded, so never fetched",
    )
    keepalive_timeout: float = Field(
        default=65.0, gt=0, description="seconds an idle client connection is kept open"
    )
    client_timeout: float = Field(
        default=60.0,
        gt=0,
        description="seconds a client may pause while sending a request's head or body; "
        "then 408 and the connection is closed",
    )
    send_timeout: float = Field(
        default=60.0,
        gt=0,
        description="seconds a client may take nothing of an answer before its connection "
        "is closed",
    )
    fill_lease_timeout: float = Field(
        default=10.0,
        gt=0,
        description="seconds without a heartbeat before another process takes over a fill",
    )
    blob_read_timeout: float = Field(
        default=30.0, gt=0, description="seconds an upstream blob may stall before the fill fails"
    )
    accel_redirect: bool = Field(
        default=False,
        description="cache hits are sent by nginx (`X-Accel-Redirect`); the split topology "
        "and compose set it",
    )
    max_fills: int = Field(
        default=16, ge=1, description="snaps one downloads process fetches upstream at once"
    )
    max_fills_per_client: int = Field(
        default=4, ge=1, description="upstream fetches one client address may start at once"
    )
    resume_ahead: str = Field(
        default="16MiB",
        description="a resume this far beyond a running fill is fetched upstream uncached",
    )
    counter_flush_interval: float = Field(
        default=5.0, gt=0, description="seconds between writes of the hit counters"
    )
    shutdown_grace: float = Field(
        default=10.0, ge=0, description="seconds a stopping process lets downloads finish"
    )
    shutdown_delay: float = Field(
        default=0.0,
        ge=0,
        le=300,
        description="seconds a service keeps serving after SIGTERM while its /_status/check "
        "answers 503 `draining`, so that a load balancer that follows readiness (Kubernetes) "
        "stops sending it requests before it stops accepting them",
    )
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="port of the embedded default's Prometheus listener (`/metrics` of "
        "`snap-proxy serve`, apart from the public port); 0: none. Split and containers: each "
        "service answers `/metrics` on its own port",
    )
    metrics_address: str = Field(
        default="127.0.0.1",
        description="address the embedded default's Prometheus listener (metrics.port) listens on",
    )
    storage_backend: Literal["local", "s3"] = Field(
        default="local",
        description="where cached snaps live: `local` (the cache folder under the data "
        "directory) or `s3` (an S3-compatible bucket: AWS S3, MinIO, Ceph RGW, SeaweedFS)",
    )
    storage_s3_endpoint: str | None = Field(
        default=None,
        description="the object store's URL, e.g. `http://minio:9000`; unset: AWS S3",
    )
    storage_s3_bucket: str = Field(default="snapproxy", description="the bucket blobs go in")
    storage_s3_prefix: str = Field(
        default="", description="a prefix for every object's name, e.g. `snapproxy/`"
    )
    storage_s3_region: str = Field(default="us-east-1", description="the bucket's region")
    storage_s3_path_style: bool = Field(
        default=False,
        description="path-style URLs (`endpoint/bucket/key`, as MinIO and SeaweedFS want) "
        "rather than virtual-hosted ones (`bucket.endpoint/key`)",
    )
    storage_s3_access_key_id: str | None = Field(
        default=None, description="the access key; unset: the usual AWS credential chain"
    )
    storage_s3_secret_access_key: SecretStr | None = Field(
        default=None, description="the secret key of the access key"
    )
    storage_s3_redirect: bool = Field(
        default=False,
        description="answer cache hits with a redirect to a presigned URL of the object (when "
        "clients can reach the object store), rather than streaming them",
    )
    storage_s3_url_expiry: int = Field(
        default=300, ge=10, le=86400, description="seconds a presigned object URL is valid"
    )
    node_url: str | None = Field(
        default=None,
        description="where the downloads replicas of other nodes reach this downloads "
        "process (e.g. `http://10.0.0.5:8005`), to stream a blob it is filling rather than "
        "fetch it upstream again; set it on every downloads replica when several nodes share "
        "the S3 backend; unset: fills are shared only by processes on one disk",
    )
    db_connect_timeout: float = Field(
        default=3.0, gt=0, description="seconds a connection to the database may take"
    )
    startup_db_wait: float = Field(
        default=5.0, ge=0, description="seconds a starting process waits for the database"
    )
    config_poll_interval: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="seconds between two reads of the configuration by every running "
        "process: live keys change within about that long",
    )

    @field_validator("upstream_url", "public_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("memcached")
    @classmethod
    def _memcached_list(cls, value: str) -> str:
        """The Snap Store Proxy's list form (``["10.0.0.1:11211", ...]``) as host:port,..."""
        if not value.strip().startswith("["):
            return value
        try:
            servers = json.loads(value)
        except ValueError:
            raise ValueError("is not a JSON list of host:port") from None
        if not isinstance(servers, list) or not all(isinstance(s, str) for s in servers):
            raise ValueError("is not a JSON list of host:port")
        return ",".join(servers) or "memory"

    @field_validator("log_level")
    @classmethod
    def _log_level_known(cls, value: str) -> str:
        if value.strip().upper() not in logging.getLevelNamesMapping():
            raise ValueError("use debug, info, warning, error or critical")
        return value.strip().lower()

    @field_validator("trusted_root_keys")
    @classmethod
    def _trusted_roots_load(cls, value: str) -> str:
        try:
            read_trusted_roots(value)  # the services that verify also build the keys at start
        except TrustedRootError as exc:
            raise ValueError(str(exc)) from None
        return value

    @property
    def sqlalchemy_url(self) -> URL:
        """The database URL with an async driver, or ConfigError naming the setting."""
        raw = self.database_url or f"sqlite:///{self.data_dir.resolve() / 'snapproxy.db'}"
        try:
            url = make_url(raw)
        except ArgumentError as exc:
            raise ConfigError(
                f"SNAPPROXY_DATABASE_URL is not a valid database URL ({raw!r}): {exc}"
            ) from None
        driver = _DRIVERS.get(url.drivername)
        if driver is None:
            raise ConfigError(
                f"SNAPPROXY_DATABASE_URL uses {url.drivername!r}; "
                "use postgresql://user@host/db or sqlite:///path"
            )
        if driver.startswith("postgresql") and not url.database:
            raise ConfigError("SNAPPROXY_DATABASE_URL names no database (postgresql://host/NAME)")
        return url.set(drivername=driver)

    @property
    def memcached_servers(self) -> list[tuple[str, int]]:
        """memcached servers from SNAPPROXY_MEMCACHED; empty for the in-process cache."""
        if self.memcached.strip() == "memory":
            return []
        servers = []
        for item in self.memcached.split(","):
            host, sep, port = item.strip().rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError(
                    f"SNAPPROXY_MEMCACHED has {item.strip()!r}; use host:port,... or `memory`"
                )
            servers.append((host, int(port)))
        return servers

    @property
    def cache_max_size_bytes(self) -> int | None:
        """The cap in bytes (a bare number is MiB); None for no cap (unset, empty or 0)."""
        return parse_cache_size(self.cache_max_size or "", "SNAPPROXY_CACHE_MAX_SIZE")

    @property
    def configured_public_url(self) -> str | None:
        """SNAPPROXY_PUBLIC_URL, else ``http://DOMAIN[:PORT]`` from proxy.domain and
        proxy.port.http (no port when 80), or ``https://DOMAIN[:PORT]`` with proxy.port.https
        (no port when 443) once a certificate is imported, else None: the request's host
        decides."""
        if self.public_url:
            return self.public_url
        if not self.domain:
            return None
        host = f"[{self.domain}]" if ":" in self.domain else self.domain
        if self.tls_enabled:
            return (
                f"https://{host}" if self.port_https == 443 else f"https://{host}:{self.port_https}"
            )
        return f"http://{host}" if self.port == 80 else f"http://{host}:{self.port}"

    @property
    def tls_enabled(self) -> bool:
        """A certificate and its key are set: the proxy serves HTTPS."""
        return bool(self.tls_cert and self.tls_key and self.tls_key.get_secret_value())

    def check_tls(self) -> None:
        """ConfigError unless proxy.tls.cert and proxy.tls.key are both set, and match, or
        are both unset."""
        key = self.tls_key.get_secret_value() if self.tls_key else ""
        if bool(self.tls_cert) != bool(key):
            raise ConfigError(
                "proxy.tls.cert and proxy.tls.key go together: set both (snap-proxy "
                "import-certificate) or neither (HTTP only)"
            )
        if self.tls_cert and key:
            # Imported here: cryptography costs each process some 10 MiB, and only the
            # processes that serve or import TLS call this.
            from shared.tls import CertificateRefused, check_stored_pair

            try:
                check_stored_pair(self.tls_cert, key)
            except CertificateRefused as exc:
                raise ConfigError(f"proxy.tls.cert and proxy.tls.key: {exc}") from None

    @property
    def object_store_origin(self) -> str | None:
        """``scheme://host[:port]`` the S3 backend's presigned URLs point at (the gateway
        fetches cache hits there); None with the local backend."""
        if self.storage_backend != "s3":
            return None
        bucket = self.storage_s3_bucket
        if self.storage_s3_endpoint:
            parts = urlsplit(self.storage_s3_endpoint)
            host = parts.netloc if self.storage_s3_path_style else f"{bucket}.{parts.netloc}"
            return f"{parts.scheme}://{host}"
        region = self.storage_s3_region
        if self.storage_s3_path_style:
            return f"https://s3.{region}.amazonaws.com"
        return f"https://{bucket}.s3.{region}.amazonaws.com"

    @property
    def resume_ahead_bytes(self) -> int:
        return parse_size(self.resume_ahead, "SNAPPROXY_RESUME_AHEAD")

    @property
    def max_snap_size_bytes(self) -> int:
        return parse_size(self.max_snap_size, "SNAPPROXY_MAX_SNAP_SIZE")

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        """Peers whose X-Forwarded-* headers are believed (``shared.http.client_view``)."""
        return parse_networks(self.trusted_proxies or "", "SNAPPROXY_TRUSTED_PROXIES")

    @property
    def cache_min_free_bytes(self) -> int:
        return parse_size(self.cache_min_free, "SNAPPROXY_CACHE_MIN_FREE")

    @property
    def cdn_host_patterns(self) -> tuple[str, ...]:
        return tuple(p.strip().lower() for p in self.cdn_hosts.split(",") if p.strip())

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def validate_all(self) -> None:
        """Raise ConfigError for the first setting that cannot work."""
        _ = self.sqlalchemy_url
        _ = self.memcached_servers
        _ = self.cache_max_size_bytes
        _ = self.cache_min_free_bytes
        _ = self.max_snap_size_bytes
        _ = self.trusted_proxy_networks
        from shared.egress import BlobOrigins  # it builds on this module

        BlobOrigins.from_settings(self)
        _ = self.resume_ahead_bytes
        self.check_tls()


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
