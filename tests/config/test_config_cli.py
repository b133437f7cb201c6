"""``snap-proxy config`` as an admin uses it: sources, validation, all-or-nothing changes,
secrets, the bootstrap file (SQLite and PostgreSQL, real processes)."""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.admin_cli import Node, digest, error_lines
from tests.support.infra import allow_connections, fresh_database, query


@pytest.fixture
def node(tmp_path: Path) -> Node:
    """A node on the embedded default (SQLite under its data directory), migrated."""
    node = Node(tmp_path / "node")
    node.upgrade()
    return node


@pytest.fixture
def pg_node(tmp_path: Path) -> Iterator[tuple[Node, str]]:
    """A node whose database (a fresh PostgreSQL one) is set with proxy.db.connection."""
    with fresh_database() as url:
        node = Node(tmp_path / "pg-node")
        node.ok(f"proxy.db.connection={url}")
        node.upgrade()
        yield node, url


def test_each_value_says_where_it_comes_from(node: Node) -> None:
    node.ok("proxy.cache.size=2048", "proxy.domain=snaps.example.com")
    rows = node.listing()
    assert rows["proxy.cache.size"] == ("config", "2048")
    assert rows["proxy.domain"] == ("config", "snaps.example.com")
    assert rows["proxy.upstream"] == ("default", "https://api.snapcraft.io")
    assert rows["proxy.device-limit"] == ("default", "(no limit)")

    overridden = node.listing("proxy.cache.size", SNAPPROXY_CACHE_MAX_SIZE="10GiB")
    assert overridden == {
        "proxy.cache.size": (
            "environment",
            "10GiB  [SNAPPROXY_CACHE_MAX_SIZE; overrides the config's 2048]",
        )
    }
    only_env = node.listing("proxy.upstream", SNAPPROXY_UPSTREAM_URL="http://up.example")
    assert only_env == {
        "proxy.upstream": ("environment", "http://up.example  [SNAPPROXY_UPSTREAM_URL]")
    }


def test_setting_a_key_the_environment_overrides_warns(node: Node) -> None:
    result = node.config("proxy.cache.size=4096", SNAPPROXY_CACHE_MAX_SIZE="1GiB")
    assert result.returncode == 0, result.stderr
    assert "warning: SNAPPROXY_CACHE_MAX_SIZE is set in this environment and overrides" in (
        result.stderr
    )
    assert node.listing("proxy.cache.size")["proxy.cache.size"] == ("config", "4096")


def test_back_to_the_default(node: Node) -> None:
    node.ok("proxy.cache.size=2048")
    node.ok("proxy.cache.size=")
    assert node.listing("proxy.cache.size")["proxy.cache.size"] == ("default", "(no cap)")
    assert "proxy.cache.size" not in node.export()


@pytest.mark.parametrize(
    ("pair", "named", "says"),
    [
        ("proxy.cache.sise=10", "proxy.cache.sise", "unknown key (did you mean proxy.cache.size?)"),
        ("proxy.cache.size=-5", "proxy.cache.size", "is not a size"),
        ("proxy.upstream=api.snapcraft.io", "proxy.upstream", "needs http:// or https://"),
        ("gateway.public-url=snaps.example.com:8000", "gateway.public-url", "needs http://"),
        ("proxy.port.http=70000", "proxy.port.http", "less than or equal to 65535"),
        ("proxy.port.http=0", "proxy.port.http", "greater than or equal to 1"),
        ("proxy.port.http=eighty", "proxy.port.http", "valid integer"),
        ("proxy.domain=http://snaps.example.com", "proxy.domain", "not a host name"),
        ("proxy.memcached.connection=cache:99999", "proxy.memcached.connection", "host:port"),
        ("proxy.device-limit=-1", "proxy.device-limit", "greater than or equal to 0"),
        ("proxy.db.connection=mysql://u@h/db", "proxy.db.connection", "uses 'mysql'"),
        ("proxy.tls.cert=not a certificate", "proxy.tls.cert", "not a PEM certificate"),
        ("gateway.trusted-proxies=10.0.0.0/8,nowhere", "gateway.trusted-proxies", "'nowhere'"),
        ("log.level=loud", "log.level", "use debug, info"),
        ("fills.max=0", "fills.max", "greater than or equal to 1"),
        ("upstream.cdn-hosts=ftp://cdn.example", "upstream.cdn-hosts", "ftp://cdn.example"),
        ('services.urls={"nobody": "http://x"}', "services.urls", "no such service: nobody"),
    ],
)
def test_a_bad_value_is_one_line_and_changes_nothing(
    node: Node, pair: str, named: str, says: str
) -> None:
    node.ok("proxy.cache.size=2048", "proxy.port.http=8080")
    before = node.export()
    result = node.config(pair)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = error_lines(result)
    assert line.startswith(f"snap-proxy: error: {named}: "), line
    assert says in line
    assert node.export() == before


def test_set_validates_every_pair_before_storing_any(node: Node) -> None:
    node.ok("proxy.cache.size=2048")
    before = node.export()
    result = node.config(
        "proxy.cache.size=100", "proxy.domain=ok.example", "proxy.port.http=99999", "nokey=1"
    )
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 2 and "proxy.port.http" in lines[0] and "nokey" in lines[1]
    assert node.export() == before


def test_several_keys_are_set_together(node: Node) -> None:
    node.ok("proxy.cache.size=100", "proxy.domain=ok.example", "metadata.info-ttl=5")
    rows = node.listing("proxy.cache.size", "proxy.domain", "metadata.info-ttl")
    assert {name: row[0] for name, row in rows.items()} == dict.fromkeys(rows, "config")


def test_restart_needed_keys_say_so(node: Node) -> None:
    result = node.config("proxy.port.http=9000", "log.level=debug", "proxy.cache.size=1")
    assert result.returncode == 0, result.stderr
    notes = error_lines(result)
    assert any(
        n.startswith("note: proxy.port.http takes effect when the gateway restarts") for n in notes
    )
    assert any(
        n.startswith("note: log.level takes effect when the services restart") for n in notes
    )
    assert not any("proxy.cache.size" in n for n in notes)  # live


def test_unreachable_database_changes_nothing(tmp_path: Path) -> None:
    with fresh_database() as url:
        node = Node(tmp_path / "node", env={"SNAPPROXY_DATABASE_URL": url})
        node.upgrade()
        node.ok("proxy.cache.size=2048")
        before = node.export()
        allow_connections(url, False)
        try:
            result = node.config("proxy.cache.size=10", "proxy.domain=x.example")
        finally:
            allow_connections(url, True)
        assert result.returncode == 1
        [line] = error_lines(result)
        assert "the database" in line and url.rsplit("/", 1)[1] in line
        assert line.endswith("; nothing was changed")
        assert node.export() == before
        assert query(url, "SELECT key, value FROM snapproxy.config") == [
            ("proxy.cache.size", "2048")
        ]


def test_database_that_does_not_answer(tmp_path: Path) -> None:
    node = Node(
        tmp_path / "node",
        env={"SNAPPROXY_DATABASE_URL": "postgresql://snapproxy@127.0.0.1:1/snapproxy"},
    )
    for args in (("proxy.cache.size=10",), ()):
        result = node.config(*args)
        assert result.returncode == 1
        [line] = error_lines(result)
        assert "127.0.0.1:1" in line


def test_a_database_connection_must_connect_before_it_is_kept(tmp_path: Path) -> None:
    node = Node(tmp_path / "node")
    result = node.config("proxy.db.connection=postgresql://snapproxy:hunter2@127.0.0.1:1/snapproxy")
    assert result.returncode == 1
    [line] = error_lines(result)
    assert line.startswith(
        "snap-proxy: error: proxy.db.connection: cannot connect to postgresql://snapproxy:***@127.0.0.1:1/snapproxy"
    )
    assert "hunter2" not in result.stderr
    assert not (node.data_dir / "bootstrap.yaml").exists()


def test_the_bootstrap_file(pg_node: tuple[Node, str]) -> None:
    node, url = pg_node
    path = node.data_dir / "bootstrap.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert url in path.read_text()
    assert [p.name for p in node.data_dir.iterdir() if p.name.startswith(".bootstrap")] == []
    # Every command finds the database there: the table is in PostgreSQL, not in SQLite.
    node.ok("proxy.domain=pg.example")
    assert query(url, "SELECT key, value FROM snapproxy.config") == [("proxy.domain", "pg.example")]
    assert not (node.data_dir / "snapproxy.db").exists()
    assert node.listing("proxy.db.connection")["proxy.db.connection"][0] == "config"


def test_secrets_are_hidden_in_the_listing_and_kept_in_the_export(
    node: Node, tls_pair: tuple[str, str]
) -> None:
    cert, key = tls_pair
    # proxy.https.proxy is kept only when the forward proxy accepts a connection.
    with socket.create_server(("127.0.0.1", 0)) as forward_proxy:
        port = forward_proxy.getsockname()[1]
        node.ok(
            "admin.token=t0ken-s3cret",
            f"proxy.https.proxy=http://squid:p4ss@127.0.0.1:{port}",
            f"proxy.tls.cert={cert}",
            f"proxy.tls.key={key}",
            "internal.secret=int3rnal",
        )
    listing = node.ok()
    for secret in ("t0ken-s3cret", "p4ss", "PRIVATE KEY", "int3rnal"):
        assert secret not in listing
    rows = node.listing("admin.token", "proxy.https.proxy", "proxy.tls.key", "proxy.tls.cert")
    assert rows["admin.token"] == ("config", "********")
    assert rows["proxy.https.proxy"] == ("config", f"http://squid:***@127.0.0.1:{port}")
    assert rows["proxy.tls.key"] == ("config", "********")
    assert rows["proxy.tls.cert"][1].startswith("-----BEGIN CERTIFICATE----- …")
    exported = node.export()
    for secret in ("t0ken-s3cret", "p4ss", "int3rnal"):
        assert secret in exported
    assert "PRIVATE KEY" in exported


def test_export_then_import_on_a_fresh_node_exports_the_same(
    tmp_path: Path, tls_pair: tuple[str, str]
) -> None:
    cert, key = tls_pair
    with fresh_database() as first_url, fresh_database() as second_url:
        first = Node(tmp_path / "first")
        first.ok(f"proxy.db.connection={first_url}")
        first.upgrade()
        first.ok(
            "proxy.cache.size=50GiB",
            "proxy.domain=snaps.example.com",
            "admin.token=s3cret",
            'proxy.memcached.connection=["10.0.0.1:11211", "10.0.0.2:11211"]',
            f"proxy.tls.cert={cert}",
            f"proxy.tls.key={key}",
            "metadata.info-ttl=5",
            'services.urls={"auth": "http://a:1"}',
            "proxy.trust-forwarded-proto=yes",
        )
        exported = first.export()
        assert exported.count("\n") > 9

        # A fresh node with its own database (the environment names it, so the imported
        # proxy.db.connection goes to its bootstrap file but not where the table is).
        second = Node(tmp_path / "second", env={"SNAPPROXY_DATABASE_URL": second_url})
        second.upgrade()
        (tmp_path / "export.yaml").write_text(exported)
        result = second.config("--import-yaml", str(tmp_path / "export.yaml"))
        assert result.returncode == 0, result.stderr
        assert digest(second.export()) == digest(exported)
        stored = dict(query(second_url, "SELECT key, value FROM snapproxy.config"))
        assert stored["proxy.domain"] == "snaps.example.com"
        assert stored["admin.token"] == "s3cret"
        assert "proxy.db.connection" not in stored  # the bootstrap file's

        # Import from standard input replaces: keys the file lacks go back to the default.
        result = second.config("--import-yaml", "-", stdin="proxy.cache.size: 100\n")
        assert result.returncode == 0, result.stderr
        assert dict(query(second_url, "SELECT key, value FROM snapproxy.config")) == {
            "proxy.cache.size": "100"
        }


def test_an_import_is_all_or_nothing(node: Node, tmp_path: Path) -> None:
    node.ok("proxy.cache.size=2048")
    before = node.export()
    for bad in (
        "proxy.domain: ok.example\nproxy.port.http: 123456\n",
        "nokey: 1\n",
        "- a list\n",
        "a: [unclosed\n",
    ):
        result = node.config("--import-yaml", "-", stdin=bad)
        assert result.returncode == 2, bad
        [line] = error_lines(result)
        assert line.startswith("snap-proxy: error: -: ")
        assert node.export() == before


def test_help_reads_well() -> None:
    result = Node(Path("/nonexistent")).run("config", "--help", spawn=True)
    assert result.returncode == 0
    for words in (
        "snap-proxy config KEY=VALUE",
        "--export-yaml",
        "--import-yaml",
        "bootstrap.yaml",
        "docs/configuration.md",
    ):
        assert words in result.stdout
