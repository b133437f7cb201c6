"""Where a value comes from, lowest first: default, bootstrap file or config table,
environment (in-process: ``shared.config.resolve``)."""

from __future__ import annotations

import pytest

from shared.config.resolve import Layers, Source, resolve
from shared.settings import ConfigError, Settings


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("SNAPPROXY_")]:
        monkeypatch.delenv(name)


def test_defaults(tmp_path) -> None:
    resolved = resolve(Layers(Settings(data_dir=tmp_path)))
    assert resolved.sources["proxy.cache.size"] is Source.DEFAULT
    assert resolved.settings.cache_max_size_bytes is None
    assert resolved.settings.sqlalchemy_url.drivername == "sqlite+aiosqlite"


def test_bootstrap_then_table_then_environment(tmp_path) -> None:
    bootstrap = {"proxy.db.connection": "postgresql://u:p@db.example/snapproxy"}
    table = {"proxy.cache.size": "2048", "proxy.domain": "snaps.example.com", "fills.max": "3"}
    resolved = resolve(Layers(Settings(data_dir=tmp_path, max_fills=5), bootstrap, table))
    settings, sources = resolved.settings, resolved.sources
    assert settings.sqlalchemy_url.host == "db.example"
    assert sources["proxy.db.connection"] is Source.CONFIG
    assert settings.cache_max_size_bytes == 2048 * 1024 * 1024
    assert sources["proxy.cache.size"] is Source.CONFIG
    assert settings.max_fills == 5  # the environment wins over the table
    assert sources["fills.max"] is Source.ENVIRONMENT


def test_the_environment_wins_over_the_bootstrap_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SNAPPROXY_DATABASE_URL", "postgresql://env.example/snapproxy")
    bootstrap = {"proxy.db.connection": "postgresql://file.example/snapproxy"}
    resolved = resolve(Layers(Settings(data_dir=tmp_path), bootstrap))
    assert resolved.settings.sqlalchemy_url.host == "env.example"
    assert resolved.sources["proxy.db.connection"] is Source.ENVIRONMENT


def test_each_key_from_its_own_place(tmp_path) -> None:
    """Bootstrap keys only from the file, the others only from the table; rows naming no key
    are ignored (and listed)."""
    table = {"proxy.db.connection": "postgresql://table.example/x", "gone.key": "1"}
    bootstrap = {"proxy.cache.size": "10"}
    resolved = resolve(Layers(Settings(data_dir=tmp_path), bootstrap, table))
    assert resolved.sources["proxy.db.connection"] is Source.DEFAULT
    assert resolved.sources["proxy.cache.size"] is Source.DEFAULT
    assert resolved.ignored == ("gone.key",)


def test_a_bad_stored_value_names_the_key(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"^proxy.port.http \(in the config table\): "):
        resolve(Layers(Settings(data_dir=tmp_path), {}, {"proxy.port.http": "99999"}))
    with pytest.raises(ConfigError, match=r"^proxy.db.connection \(in the bootstrap file\): "):
        resolve(Layers(Settings(data_dir=tmp_path), {"proxy.db.connection": "nope://"}))


@pytest.mark.parametrize(
    ("domain", "port", "public"),
    [
        ("snaps.example.com", "80", "http://snaps.example.com"),
        ("snaps.example.com", "8080", "http://snaps.example.com:8080"),
        ("2001:db8::7", "80", "http://[2001:db8::7]"),
    ],
)
def test_the_domain_makes_the_public_url(tmp_path, domain, port, public) -> None:
    table = {"proxy.domain": domain, "proxy.port.http": port}
    assert (
        resolve(Layers(Settings(data_dir=tmp_path), {}, table)).settings.configured_public_url
        == public
    )
    explicit = Settings(data_dir=tmp_path, public_url="https://cdn.example/")
    assert (
        resolve(Layers(explicit, {}, table)).settings.configured_public_url == "https://cdn.example"
    )


def test_cache_size_is_megabytes_or_a_size(tmp_path) -> None:
    for text, size in (
        ("2048", 2048 * 2**20),
        ("50GiB", 50 * 2**30),
        ("1.5G", 1_500_000_000),
        ("0", None),
    ):
        settings = resolve(
            Layers(Settings(data_dir=tmp_path), {}, {"proxy.cache.size": text})
        ).settings
        assert settings.cache_max_size_bytes == size


def test_the_blob_store_is_configured_with_the_snap_store_proxys_keys(tmp_path) -> None:
    """proxy.storage.* (the Snap Store Proxy's names), storage.s3.* (snapproxy's own)."""
    table = {
        "proxy.storage.backend": "s3",
        "proxy.storage.s3.server-url": "http://objects.example:8333",
        "proxy.storage.s3.use-path-style": "true",
        "proxy.storage.s3.region": "eu-west-1",
        "proxy.storage.s3.access-key-id": "AKIDEXAMPLE",
        "proxy.storage.s3.secret-access-key": "wJalrXUtnFEMI",
        "storage.s3.bucket": "snaps",
        "storage.s3.url-expiry": "60",
    }
    resolved = resolve(Layers(Settings(data_dir=tmp_path), {}, table))
    settings = resolved.settings
    assert settings.storage_backend == "s3"
    assert settings.object_store_origin == "http://objects.example:8333"
    assert settings.storage_s3_region == "eu-west-1"
    assert settings.storage_s3_bucket == "snaps"
    assert settings.storage_s3_url_expiry == 60
    assert settings.storage_s3_secret_access_key is not None
    assert settings.storage_s3_secret_access_key.get_secret_value() == "wJalrXUtnFEMI"
    assert all(resolved.sources[name] is Source.CONFIG for name in table)


def test_a_bad_storage_backend_names_the_key(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"^proxy.storage.backend \(in the config table\): "):
        resolve(Layers(Settings(data_dir=tmp_path), {}, {"proxy.storage.backend": "nfs"}))
