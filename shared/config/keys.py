"""The registry of configuration keys: one :class:`ConfigKey` per setting of ``Settings``.

Names are the Snap Store Proxy's where it has one (``proxy.*``), snapproxy's own otherwise,
grouped by what they tune (``cache.*``, ``upstream.*``, ``metadata.*``, ...). A key's value
comes, lowest first, from its default, the bootstrap file or the ``config`` table, and the
environment (``SNAPPROXY_<FIELD>``): see ``shared.config.resolve``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from shared.config import values as v
from shared.config.egress import forward_proxy_reachable
from shared.config.hooks import Applied, ApplyContext, ApplyHook
from shared.dbroles import ROLES_ENTRY
from shared.settings import Settings


class Restart(enum.StrEnum):
    """What must restart before a changed key takes effect."""

    GATEWAY = "the gateway"
    SERVICES = "the services"


@dataclass(frozen=True)
class ConfigKey:
    name: str
    field: str
    parse: v.Parser
    secret: bool = False  # redacted in the listing (never in --export-yaml)
    live: bool = False  # running services pick a change up within config.poll-interval
    restart: Restart | None = None  # else: what must restart for a change to take effect
    bootstrap: bool = False  # kept in the node's bootstrap file, not in the database
    apply: ApplyHook | None = None  # called by `snap-proxy config` instead of a plain store
    unused: bool = False  # defined for a feature still to come; nothing reads it yet
    unset: str = "not set"  # what no value means, for the listing
    redact: Callable[[str], str] | None = None  # a secret's partly hidden form
    companions: tuple[str, ...] = ()  # bootstrap entries its apply hook keeps with it
    check: Callable[..., None] | None = None  # the value's own check, after the field's type

    @property
    def description(self) -> str:
        return Settings.model_fields[self.field].description or ""

    @property
    def env_var(self) -> str:
        return "SNAPPROXY_" + self.field.upper()

    def text(self, value: object) -> str:
        """The value as text, as ``parse`` reads it back."""
        if value is None:
            return ""
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict):
            return json.dumps(value, sort_keys=True)
        if isinstance(value, Path):
            return str(value)
        return str(value)

    def shown(self, text: str) -> str:
        """``text`` as the plain listing shows it: secrets hidden."""
        if not text or not self.secret:
            return text
        return self.redact(text) if self.redact else "********"


def _key(
    name: str, field: str, check: Callable[..., None] | None = None, **kw: object
) -> ConfigKey:
    parse = v.checked(field, check) if check else v.plain(field)
    return ConfigKey(name, field, parse, check=check, **kw)  # type: ignore[arg-type]


def configure_database(text: str, context: ApplyContext) -> Applied:
    """proxy.db.connection's hook (imported when used: it brings Alembic along)."""
    from shared.dbsetup import configure_database as configure

    return configure(text, context)


S, G = Restart.SERVICES, Restart.GATEWAY

KEYS: tuple[ConfigKey, ...] = (
    # -- the Snap Store Proxy's keys -------------------------------------------------------
    _key("proxy.domain", "domain", v.host_name, live=True),
    _key("proxy.upstream", "upstream_url", v.http_url, restart=S),
    _key(
        "proxy.https.proxy",
        "https_proxy",
        v.forward_proxy,
        restart=S,
        secret=True,
        redact=v.redact_url_password,
        apply=forward_proxy_reachable,
    ),
    _key("proxy.cache.size", "cache_max_size", v.cache_size, live=True, unset="no cap"),
    _key(
        "proxy.db.connection",
        "database_url",
        v.database_url,
        bootstrap=True,
        restart=S,
        secret=True,
        redact=v.redact_url_password,
        apply=configure_database,
        companions=(ROLES_ENTRY,),
        unset="SQLite under the data directory",
    ),
    _key("proxy.memcached.connection", "memcached", v.memcached_servers, restart=S),
    _key("proxy.port.http", "port", restart=G),
    _key("proxy.port.https", "port_https", restart=G),
    _key("proxy.ipaddress", "host", v.bind_address, restart=G),
    _key("proxy.tls.cert", "tls_cert", v.pem_certificate, restart=G, unset="HTTP only"),
    _key("proxy.tls.key", "tls_key", v.pem_private_key, restart=G, secret=True),
    _key("proxy.key.private", "key_private", v.pem_private_key, secret=True),
    _key("proxy.key.public", "key_public"),
    _key("internal.store.id", "store_id", live=True, unset="not registered"),
    _key("internal.store.url", "store_url", v.http_url, live=True, unset="not registered"),
    _key("internal.store.assertions", "store_assertions", live=True, unset="not registered"),
    _key("registration.report-interval", "report_interval", live=True),
    _key("proxy.device-limit", "device_limit", live=True, unset="no limit"),
    _key("proxy.airgap", "airgap", live=True),
    _key("proxy.trust-forwarded-proto", "trust_forwarded_proto", restart=G),
    _key("proxy.storage.backend", "storage_backend", restart=S),
    _key(
        "proxy.storage.s3.server-url", "storage_s3_endpoint", v.http_url, restart=S, unset="AWS S3"
    ),
    _key("proxy.storage.s3.region", "storage_s3_region", restart=S),
    _key("proxy.storage.s3.use-path-style", "storage_s3_path_style", restart=S),
    _key(
        "proxy.storage.s3.access-key-id",
        "storage_s3_access_key_id",
        restart=S,
        unset="the AWS credential chain",
    ),
    _key(
        "proxy.storage.s3.secret-access-key",
        "storage_s3_secret_access_key",
        restart=S,
        secret=True,
        unset="the usual AWS credential chain",
    ),
    # -- snapproxy's own -------------------------------------------------------------------
    _key("admin.token", "admin_token", live=True, secret=True, unset="no admin access"),
    _key("internal.secret", "internal_secret", restart=S, secret=True, unset="generated"),
    _key("gateway.public-url", "public_url", v.http_url, live=True),
    _key("gateway.trusted-proxies", "trusted_proxies", v.networks, restart=S),
    _key("gateway.accel-redirect", "accel_redirect", restart=S),
    _key("gateway.keepalive-timeout", "keepalive_timeout", restart=S),
    _key("gateway.client-timeout", "client_timeout", restart=S),
    _key("gateway.send-timeout", "send_timeout", restart=S),
    _key("services.urls", "service_urls", v.service_urls, restart=S),
    _key("services.shutdown-grace", "shutdown_grace", restart=S),
    _key("services.shutdown-delay", "shutdown_delay", restart=S),
    _key("metrics.port", "metrics_port", restart=S),
    _key("metrics.address", "metrics_address", v.bind_address, restart=S),
    _key("health.check-timeout", "check_timeout", restart=S),
    _key("log.format", "log_format", restart=S),
    _key("log.level", "log_level", restart=S),
    _key("upstream.timeout", "upstream_timeout", restart=S),
    _key("upstream.cdn-hosts", "cdn_hosts", v.cdn_hosts, restart=S),
    _key(
        "upstream.ca-certs",
        "upstream_ca_certs",
        v.ca_bundle,
        restart=S,
        unset="the default CA store",
    ),
    _key("assertions.ttl", "assertion_ttl", restart=S),
    _key("assertions.trusted-root-keys", "trusted_root_keys", restart=S),
    _key("metadata.info-ttl", "info_ttl", restart=S),
    _key("metadata.catalog-ttl", "catalog_ttl", restart=S),
    _key("metadata.overrides-max-age", "overrides_max_age", restart=S),
    _key("metadata.not-found-ttl", "not_found_ttl", restart=S),
    _key("metadata.stale-ttl", "stale_ttl", restart=S),
    _key("cache.min-free", "cache_min_free", v.size, restart=S),
    _key("cache.max-snap-size", "max_snap_size", v.size, restart=S),
    _key("cache.counter-flush-interval", "counter_flush_interval", restart=S),
    _key("storage.s3.bucket", "storage_s3_bucket", restart=S),
    _key("storage.s3.prefix", "storage_s3_prefix", restart=S, unset="no prefix"),
    _key("storage.s3.redirect", "storage_s3_redirect", restart=S),
    _key("storage.s3.url-expiry", "storage_s3_url_expiry", restart=S),
    _key("downloads.node-url", "node_url", v.http_url, restart=S),
    _key("fills.max", "max_fills", restart=S),
    _key("fills.max-per-client", "max_fills_per_client", restart=S),
    _key("fills.lease-timeout", "fill_lease_timeout", restart=S),
    _key("fills.blob-read-timeout", "blob_read_timeout", restart=S),
    _key("fills.resume-ahead", "resume_ahead", v.size, restart=S),
    _key("db.connect-timeout", "db_connect_timeout", bootstrap=True, restart=S),
    _key("db.startup-wait", "startup_db_wait", bootstrap=True, restart=S),
    _key("config.poll-interval", "config_poll_interval", live=True),
)

BY_NAME: dict[str, ConfigKey] = {key.name: key for key in KEYS}
BY_FIELD: dict[str, ConfigKey] = {key.field: key for key in KEYS}
assert len(BY_NAME) == len(BY_FIELD) == len(KEYS), "a key name or a setting is listed twice"
# Settings only the environment sets: the bootstrap file is found through them.
ENVIRONMENT_ONLY: tuple[str, ...] = ("data_dir",)


def key_named(name: str) -> ConfigKey:
    """The key ``name``; ConfigValueError (with a close name, if any) when there is none."""
    found = BY_NAME.get(name)
    if found is None:
        import difflib

        close = difflib.get_close_matches(name, BY_NAME, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise v.ConfigValueError(f"unknown key{hint}; `snap-proxy config` lists them all")
    return found
