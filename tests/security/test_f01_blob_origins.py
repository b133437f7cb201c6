"""Finding 1 (SSRF part): the allow-list of blob origins checks scheme, host and port.

``shared.egress.BlobOrigins`` is what the revisions service checks a blob URL against when
it records it, and the downloads service when it fetches it (and on every redirect).
"""

from __future__ import annotations

import pytest

from shared.egress import BlobOrigins, Origin, parse_origin
from shared.settings import ConfigError, Settings


def origins(upstream: str = "https://api.snapcraft.io", cdn: str | None = None) -> BlobOrigins:
    settings = (
        Settings(upstream_url=upstream)
        if cdn is None
        else Settings(upstream_url=upstream, cdn_hosts=cdn)
    )
    return BlobOrigins.from_settings(settings)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.snapcraft.io/api/v1/snaps/download/abc_1.snap",
        "https://API.snapcraft.io:443/x",
        "https://canonical-bos01.cdn.snapcraftcontent.com/download-origin/x",
        "https://a.b.snapcraftcontent.com/x?token=1",
    ],
)
def test_default_allows_the_store_and_its_cdn(url: str) -> None:
    assert origins().allows(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.snapcraft.io/x",  # scheme differs
        "https://api.snapcraft.io:8443/x",  # port differs
        "https://api.snapcraft.io:11211/",
        "http://cdn.snapcraftcontent.com/x",
        "https://cdn.snapcraftcontent.com:444/x",
        "https://snapcraftcontent.com/x",  # `*.` needs a subdomain
        "https://evilsnapcraftcontent.com/x",
        "https://cdn.snapcraftcontent.com.evil.example/x",
        "https://cdn.snapcraftcontent.com@evil.example/x",
        "https://user:pw@api.snapcraft.io/x",
        "https://evil.example/.snapcraftcontent.com/x",
        "https://evil.example\\.snapcraftcontent.com/x",
        "http://127.0.0.1:5432/",
        "http://[::1]:11211/",
        "file:///etc/passwd",
        "gopher://api.snapcraft.io/x",
        "//api.snapcraft.io/x",
        "/api/v1/snaps/download/x",
        "https://api.snapcraft.io:99999/x",
        "https://api.snapcraft.io:x/",
        "",
        "not a url",
    ],
)
def test_default_refuses_everything_else(url: str) -> None:
    assert not origins().allows(url)


def test_upstream_origin_is_exact() -> None:
    allowed = origins("http://127.0.0.1:41000", cdn="http://127.0.0.1:41001")
    assert allowed.allows("http://127.0.0.1:41000/api/v1/snaps/download/x_1.snap")
    assert allowed.allows("http://127.0.0.1:41001/download-origin/x_1.snap")
    # The same host on another port is another service (PostgreSQL, memcached, the proxy).
    for port in (41002, 5432, 11211, 80):
        assert not allowed.allows(f"http://127.0.0.1:{port}/x")
    assert not allowed.allows("https://127.0.0.1:41000/x")
    assert not allowed.allows("http://localhost:41000/x")


@pytest.mark.parametrize(
    ("entry", "origin"),
    [
        ("*.snapcraftcontent.com", Origin("https", "*.snapcraftcontent.com", 443)),
        ("cdn.example.com", Origin("https", "cdn.example.com", 443)),
        ("cdn.example.com:8443", Origin("https", "cdn.example.com", 8443)),
        ("http://127.0.0.1:41234", Origin("http", "127.0.0.1", 41234)),
        ("http://cdn.example.com", Origin("http", "cdn.example.com", 80)),
        ("HTTPS://CDN.Example.com/", Origin("https", "cdn.example.com", 443)),
        ("http://*.cdn.example.com:8080", Origin("http", "*.cdn.example.com", 8080)),
        ("http://[::1]:9000", Origin("http", "::1", 9000)),
    ],
)
def test_cdn_entries(entry: str, origin: Origin) -> None:
    assert parse_origin(entry, "SNAPPROXY_CDN_HOSTS") == origin


@pytest.mark.parametrize(
    "entry",
    [
        "ftp://cdn.example.com",
        "cdn.*.example.com",
        "*cdn.example.com",
        "*",
        "https://cdn.example.com/path",
        "https://user@cdn.example.com",
        "https://cdn.example.com:port",
        "https://",
    ],
)
def test_bad_cdn_entry_names_the_setting(entry: str) -> None:
    with pytest.raises(ConfigError, match="SNAPPROXY_CDN_HOSTS"):
        origins(cdn=entry)


def test_several_cdn_entries() -> None:
    allowed = origins(cdn="*.snapcraftcontent.com, http://127.0.0.1:41234")
    assert allowed.allows("https://x.snapcraftcontent.com/a")
    assert allowed.allows("http://127.0.0.1:41234/a")
    assert not allowed.allows("http://127.0.0.1:41235/a")


def test_bad_upstream_url_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="SNAPPROXY_UPSTREAM_URL"):
        origins(upstream="ftp://store.example")
