"""Where the proxy may fetch snap blobs from: the upstream's own origin and the CDN entries.

A URL is allowed only when its scheme, host and port all match one allowed origin. The
upstream is ``SNAPPROXY_UPSTREAM_URL`` (exact scheme, host and port). Each entry of
``SNAPPROXY_CDN_HOSTS`` is either a host pattern (``*.snapcraftcontent.com``: https on port
443; a leading ``*.`` matches any subdomain) or an origin with a scheme and an optional port
(``http://127.0.0.1:41234``, ``https://cdn.example.com:8443``).

The revisions service checks a blob URL when it records it; the downloads service checks it
again when it fetches it, and on every redirect. Nothing a client sends can add an origin.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from shared.settings import ConfigError, Settings
from shared.upstream import upstream_label

DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_HOST_PATTERN = re.compile(r"^(?:\*\.)?[a-z0-9\-.]+$")


@dataclass(frozen=True)
class Origin:
    """One allowed origin: a scheme, a host (or ``*.domain`` pattern) and a port."""

    scheme: str
    host: str
    port: int

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if scheme != self.scheme or port != self.port:
            return False
        if self.host.startswith("*."):
            return fnmatch.fnmatchcase(host, self.host)
        return host == self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def _url_parts(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an absolute http(s) URL without credentials; else None."""
    try:
        parts: SplitResult = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if not _valid_host(host):
        return None
    return scheme, host, port if port is not None else DEFAULT_PORTS[scheme]


def _valid_host(host: str) -> bool:
    if _HOST_NAME.match(host):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_origin(entry: str, setting: str) -> Origin:
    """An origin from ``https://host:port``, ``http://host``, ``host`` or ``*.domain``."""
    text = entry.strip().lower()
    if "://" not in text:
        # A bare host (pattern), maybe with a port: https, as a CDN is.
        text = "https://" + text
    scheme, _, rest = text.partition("://")
    if "*" in rest:
        host_port = rest.rstrip("/")
        host, _, port_text = host_port.partition(":")
        if (
            not _HOST_PATTERN.match(host)
            or "*" in host[1:]
            or (port_text and not port_text.isdigit())
        ):
            raise ConfigError(
                f"{setting} has {entry.strip()!r}; a pattern is `*.domain`, optionally with "
                "a scheme and a port (https://*.example.com:443)"
            )
        if scheme not in DEFAULT_PORTS:
            raise ConfigError(f"{setting} has {entry.strip()!r}; use http or https")
        return Origin(scheme, host, int(port_text) if port_text else DEFAULT_PORTS[scheme])
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    found = _url_parts(text)
    if found is None or parts is None or parts.path not in ("", "/") or parts.query:
        raise ConfigError(
            f"{setting} has {entry.strip()!r}; use a host, a `*.domain` pattern or an origin "
            "such as https://cdn.example.com:8443"
        )
    return Origin(*found)


class BlobOrigins:
    """The origins blob URLs may point at (upstream and CDN); ``allows(url)`` checks one."""

    def __init__(self, origins: Iterable[Origin]) -> None:
        self.origins = tuple(origins)

    @classmethod
    def from_settings(cls, settings: Settings) -> BlobOrigins:
        """The upstream's origin and every ``SNAPPROXY_CDN_HOSTS`` entry; ConfigError naming
        the setting when one does not parse."""
        # Credentials in the upstream URL are the upstream client's, not part of its origin;
        # a message shows the URL with its password hidden.
        parts = urlsplit(settings.upstream_url.strip())
        upstream = _url_parts(parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl())
        if upstream is None:
            raise ConfigError(
                f"SNAPPROXY_UPSTREAM_URL has {upstream_label(settings.upstream_url)!r}; "
                "use http(s)://host[:port]"
            )
        cdn = [
            parse_origin(entry, "SNAPPROXY_CDN_HOSTS")
            for entry in settings.cdn_hosts.split(",")
            if entry.strip()
        ]
        return cls([Origin(*upstream), *cdn])

    def allows(self, url: str) -> bool:
        """True when ``url``'s scheme, host and port match an allowed origin."""
        found = _url_parts(url)
        if found is None:
            return False
        return any(origin.matches(*found) for origin in self.origins)

    def __str__(self) -> str:
        return ", ".join(str(origin) for origin in self.origins)
