"""Units of private snaps: credential checks, sessions, grants, the catalogue flag, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from tests.sim.helpers import device_session
from tests.support.sim import SimHandle, run_cli
from tools.snap_store_sim.access import (
    TEST_USER_AUTHORIZATION,
    TEST_USER_DISCHARGE,
    TEST_USER_ROOT,
    accepted_credentials,
    grant_query,
    grant_valid,
    issue_session,
    load_secret,
    macaroon_params,
    session_valid,
)
from tools.snap_store_sim.catalogue import Catalogue, load_catalogue
from tools.snap_store_sim.layout import DataDir

SECRET = b"unit-test-secret"


def test_macaroon_params() -> None:
    assert macaroon_params('Macaroon root="r", discharge="a", discharge="b"') == {
        "root": ["r"], "discharge": ["a", "b"],
    }  # fmt: skip
    assert macaroon_params('macaroon root="r"') == {"root": ["r"]}
    for value in ("Bearer x", "Macaroon", "Macaroon ", 'Macaroon root="r" junk', "Macaroon r"):
        assert macaroon_params(value) is None, value


@pytest.mark.parametrize(
    ("headers", "accepted"),
    [
        ({}, False),
        ({"authorization": TEST_USER_AUTHORIZATION}, True),
        ({"authorization": f'Macaroon root="{TEST_USER_ROOT}"'}, False),  # no discharge
        ({"authorization": f'Macaroon root="x", discharge="{TEST_USER_DISCHARGE}"'}, False),
        ({"authorization": f"Bearer {TEST_USER_ROOT}"}, False),
        ({"snap-device-authorization": f'Macaroon root="{issue_session(SECRET)}"'}, True),
        ({"x-device-authorization": f'Macaroon root="{issue_session(SECRET)}"'}, True),
        ({"x-device-authorization": issue_session(SECRET)}, False),  # not a Macaroon header
        ({"snap-device-authorization": f'Macaroon root="{issue_session(b"other")}"'}, False),
        ({"snap-device-authorization": ""}, False),
        (
            {
                "authorization": "Bearer no",
                "snap-device-authorization": f'Macaroon root="{issue_session(SECRET)}"',
            },
            True,
        ),
    ],
)
def test_accepted_credentials(headers: dict[str, str], accepted: bool) -> None:
    assert accepted_credentials(headers, SECRET) is accepted


def test_sessions_are_signed() -> None:
    session = issue_session(SECRET)
    assert session.startswith("snapsim-session-") and session_valid(SECRET, session)
    assert session != issue_session(SECRET)
    nonce, mac = session.rsplit(".", 1)
    assert not session_valid(SECRET, f"{nonce}x.{mac}")
    assert not session_valid(SECRET, f"{nonce}.{mac[:-1]}")
    assert not session_valid(SECRET, nonce)
    assert not session_valid(b"other", session)


def test_grants() -> None:
    query = grant_query(SECRET, "a_1.snap", now=1000)
    assert grant_valid(SECRET, "a_1.snap", query, now=1000)
    assert grant_valid(SECRET, "a_1.snap", query, now=1000 + 3600)
    assert not grant_valid(SECRET, "a_1.snap", query, now=1000 + 3601)  # expired
    assert not grant_valid(SECRET, "a_2.snap", query, now=1000)  # another blob
    assert not grant_valid(b"other", "a_1.snap", query, now=1000)
    for bad in ("", "expires=4600", "grant=00", "expires=x&grant=00", query + "&expires=4600"):
        assert not grant_valid(SECRET, "a_1.snap", bad, now=1000), bad


def test_sessions_from_the_endpoint_are_keyed_by_the_data_dir(
    sim: SimHandle, api: httpx.Client
) -> None:
    """The secret lives in the data directory, so sessions outlive a restart."""
    secret = load_secret(DataDir(sim.data_dir))
    assert session_valid(secret, device_session(api))
    assert (sim.data_dir / "keys" / "access.secret").stat().st_mode & 0o077 == 0


def test_catalogues_without_private_load_as_public() -> None:
    old = {"format": 1, "snaps": [{"name": "old", "snap-id": "X" * 32, "publisher": {}}]}
    snap = Catalogue.from_json(old).by_name("old")
    assert snap is not None and snap.private is False
    assert Catalogue.from_json(old).to_json()["snaps"][0]["private"] is False


def test_add_snap_private_and_public_again(simulator: SimHandle, tmp_path: Path) -> None:
    data = tmp_path / "offline"
    shutil.copytree(simulator.data_dir / "keys", data / "keys")
    args = ("--data-dir", str(data), "--size", "4KiB")
    added = run_cli("add-snap", "secret-app", "--private", *args)
    assert "(private)" in added.stdout

    def private() -> bool:
        snap = load_catalogue(data / "catalogue.json").by_name("secret-app")
        assert snap is not None
        return snap.private

    assert private()
    assert json.loads((data / "catalogue.json").read_text())["snaps"][0]["private"] is True
    run_cli("add-snap", "secret-app", *args)  # a new revision keeps it private
    assert private()
    run_cli("add-snap", "secret-app", "--public", *args)
    assert not private()
