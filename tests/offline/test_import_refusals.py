"""Bundles the offline proxy refuses, with nothing imported (a flipped blob byte, a
truncated tar, a forged assertion, manifests that do not match, an unlisted member, a
failure halfway through), and incremental and --cached bundles (docs/offline.md)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.offline.conftest import ESSENTIALS, EXPORTED, Stores
from tests.offline.support import (
    Members,
    an_unlisted_member,
    corrupted,
    flip_a_blob_byte,
    forge_an_assertion,
    manifest_naming_other_bytes,
    manifest_without_its_checksum,
    read_members,
)
from tests.support.proxy_cli import cli

pytestmark = pytest.mark.realclient


# ---- corrupted bundles: refused, nothing imported ---------------------------------------------


CORRUPTIONS: dict[str, tuple[Callable[[Members], None] | None, str]] = {
    "flipped-blob-byte": (flip_a_blob_byte, "SHA3-384 differs from the manifest's"),
    "truncated-tar": (None, "refused"),
    "forged-assertion": (forge_an_assertion, "does not verify up to a trusted root key"),
    "manifest-checksum": (manifest_without_its_checksum, "does not match its checksum"),
    "manifest-mismatch": (manifest_naming_other_bytes, "SHA3-384 differs from the manifest's"),
    "unlisted-member": (an_unlisted_member, "is not in the manifest"),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_a_corrupted_bundle_is_refused_and_nothing_is_imported(
    stores: Stores, corruption: str, tmp_path: Path
) -> None:
    change, message = CORRUPTIONS[corruption]
    target = tmp_path / "bad.tar"
    if change is None:
        data = stores.bundle.read_bytes()
        target.write_bytes(data[: len(data) * 2 // 3])
    else:
        corrupted(stores.bundle, target, change)
    data_dir = tmp_path / "fresh"
    env = {**stores.offline.env, "SNAPPROXY_DATA_DIR": str(data_dir)}
    assert cli(env, "db", "upgrade").returncode == 0
    refused = cli(env, "push-snap", str(target))
    assert refused.returncode == 1, refused.stdout
    assert "nothing imported" in refused.stderr and message in refused.stderr, refused.stderr
    assert cli(env, "list-pushed-snaps").stdout.startswith("no snaps imported")
    cache = data_dir / "cache"
    assert not list((cache / "blobs").rglob("*.snap")), "a blob stayed behind"
    assert not list((cache / "partial").glob("*")), "a partial file stayed behind"
    with sqlite3.connect(data_dir / "snapproxy.db") as database:
        for table in ("pushed_snaps", "pushed_revisions", "assertions", "cache_entries"):
            assert database.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table


def test_a_failure_halfway_through_the_import_leaves_no_trace(
    stores: Stores, tmp_path: Path
) -> None:
    """Everything verifies and the blobs are put in place, then the database refuses a row
    (a trigger): the placed blobs are removed again and no row is written."""
    data_dir = tmp_path / "fresh"
    env = {**stores.offline.env, "SNAPPROXY_DATA_DIR": str(data_dir)}
    assert cli(env, "db", "upgrade").returncode == 0
    database = data_dir / "snapproxy.db"
    with sqlite3.connect(database) as connection:
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON assertions "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
    failed = cli(env, "push-snap", str(stores.bundle))
    assert failed.returncode == 1
    assert "import failed, nothing imported" in failed.stderr, failed.stderr
    assert "injected failure" in failed.stderr, failed.stderr
    assert not list((data_dir / "cache" / "blobs").rglob("*.snap")), "a placed blob stayed"
    assert not list((data_dir / "cache" / "partial").glob("*")), "a partial file stayed"
    with sqlite3.connect(database) as connection:
        for table in ("pushed_snaps", "pushed_revisions", "assertions", "cache_entries"):
            assert connection.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table
        connection.execute("DROP TRIGGER refuse")
    imported = cli(env, "push-snap", str(stores.bundle))  # and then it imports
    assert imported.returncode == 0, imported.stderr
    blobs = [name for name in read_members(stores.bundle) if name.startswith("blobs/")]
    assert len(list((data_dir / "cache" / "blobs").rglob("*.snap"))) == len(blobs)


def test_an_incremental_bundle_leaves_out_what_the_earlier_one_carried(
    stores: Stores, tmp_path: Path
) -> None:
    incremental = stores.bundle.with_name("incremental.tar")
    members = read_members(incremental)
    assert not [name for name in members if name.startswith("blobs/")]
    assert {n for n in members if n.startswith("snaps/")} == {
        f"snaps/{name}.json" for name in (*EXPORTED, *ESSENTIALS)
    }
    # Where the earlier bundle was imported, it adds nothing; where it was not, it is
    # refused with what to do, and nothing is imported.
    again = cli(stores.offline.env, "push-snap", str(incremental))
    assert again.returncode == 0 and again.stdout.startswith("already imported"), again.stderr
    env = {**stores.offline.env, "SNAPPROXY_DATA_DIR": str(tmp_path / "fresh")}
    assert cli(env, "db", "upgrade").returncode == 0
    refused = cli(env, "push-snap", str(incremental))
    assert refused.returncode == 1
    assert "import the bundle it was made --since first" in refused.stderr, refused.stderr
    assert cli(env, "list-pushed-snaps").stdout.startswith("no snaps imported")


def test_export_cached_takes_every_snap_the_online_proxy_cached(stores: Stores) -> None:
    members = read_members(stores.bundle.with_name("cached.tar"))
    snaps = {n.removeprefix("snaps/").removesuffix(".json") for n in members if "snaps/" in n}
    # snap download and the first export filled the cache with these.
    assert snaps == {*EXPORTED, *ESSENTIALS}, stores.cached_output
