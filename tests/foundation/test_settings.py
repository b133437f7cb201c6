from __future__ import annotations

import pytest

from shared.settings import ConfigError, Settings


def test_defaults_give_sqlite_under_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path)
    url = settings.sqlalchemy_url
    assert url.drivername == "sqlite+aiosqlite"
    assert url.database == str(tmp_path.resolve() / "snapproxy.db")
    assert settings.memcached_servers == []
    assert settings.upstream_url == "https://api.snapcraft.io"
    assert settings.port == 8000


def test_postgres_url_gets_async_driver():
    url = Settings(database_url="postgresql://u:p@db:5432/snapproxy").sqlalchemy_url
    assert url.drivername == "postgresql+asyncpg"
    assert url.host == "db"
    assert url.database == "snapproxy"


def test_environment_prefix(monkeypatch):
    monkeypatch.setenv("SNAPPROXY_MEMCACHED", "10.0.0.1:11211, mc2:11212")
    monkeypatch.setenv("SNAPPROXY_UPSTREAM_URL", "http://up.example/")
    monkeypatch.setenv("SNAPPROXY_PORT", "9001")
    settings = Settings()
    assert settings.memcached_servers == [("10.0.0.1", 11211), ("mc2", 11212)]
    assert settings.upstream_url == "http://up.example"
    assert settings.port == 9001


@pytest.mark.parametrize(
    "bad",
    ["not a url", "mysql://u@h/db", "postgresql://127.0.0.1:5432", "://"],
)
def test_malformed_database_url_names_the_setting(bad):
    with pytest.raises(ConfigError, match="SNAPPROXY_DATABASE_URL"):
        _ = Settings(database_url=bad).sqlalchemy_url


@pytest.mark.parametrize("bad", ["localhost", "host:port", ":11211", "a:1,b"])
def test_malformed_memcached_names_the_setting(bad):
    with pytest.raises(ConfigError, match="SNAPPROXY_MEMCACHED"):
        _ = Settings(memcached=bad).memcached_servers
