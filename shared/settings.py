"""Settings for every service, read from ``SNAPPROXY_*`` environment variables.

Settings are built inside ``create_app()`` or a CLI command, never at import time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

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
        description="SQLAlchemy URL; default: SQLite at $SNAPPROXY_DATA_DIR/snapproxy.db",
    )
    memcached: str = Field(
        default="memory", description="memcached servers as host:port,... or `memory`"
    )
    upstream_url: str = "https://api.snapcraft.io"
    public_url: str | None = None
    data_dir: Path = Path("./var")
    host: str = "127.0.0.1"
    port: int = 8000
    admin_token: SecretStr | None = None
    service_urls: dict[str, str] = Field(
        default_factory=lambda: {name: f"http://{name}:8000" for name in SERVICE_NAMES}
    )
    log_format: Literal["console", "json"] = "console"
    log_level: str = "info"
    check_timeout: float = 2.0
    upstream_timeout: float = 6.0
    assertion_ttl: float = Field(
        default=3600.0, description="seconds a stored assertion is served without asking upstream"
    )
    info_ttl: int = Field(default=60, description="seconds info and find answers are cached")
    catalog_ttl: int = Field(default=3600, description="seconds sections and names are cached")
    not_found_ttl: int = Field(default=30, description="seconds upstream 404s are cached")
    stale_ttl: int = Field(default=7 * 86400, description="how long a last good answer is kept")
    cache_max_size: str | None = Field(default=None, description="e.g. 50GiB; unset: no cap")
    cache_min_free: str = Field(default="512MiB", description="free disk space to keep")
    cdn_hosts: str = Field(
        default="*.snapcraftcontent.com", description="host patterns blob redirects may go to"
    )
    fill_lease_timeout: float = Field(
        default=10.0, description="seconds before a fill is taken over"
    )
    blob_read_timeout: float = Field(default=30.0, description="upstream blob read timeout")
    accel_redirect: bool = Field(default=False, description="hits are sent by nginx")
    db_connect_timeout: float = 3.0
    startup_db_wait: float = 5.0

    @field_validator("upstream_url", "public_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

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
            if not sep or not host or not port.isdigit():
                raise ConfigError(
                    f"SNAPPROXY_MEMCACHED has {item.strip()!r}; use host:port,... or `memory`"
                )
            servers.append((host, int(port)))
        return servers

    @property
    def cache_max_size_bytes(self) -> int | None:
        if not self.cache_max_size:
            return None
        return parse_size(self.cache_max_size, "SNAPPROXY_CACHE_MAX_SIZE")

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


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
