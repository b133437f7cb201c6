"""The overrides' commands (caller: the admin, through the admin REST API with ``--url`` and
``--token``, as from another machine), in both topologies: override, list-overrides,
delete-override, freeze and unfreeze around a new upstream release (judged by the real
``snap download``), promote, overrides-log."""

from __future__ import annotations

import getpass
import subprocess
from pathlib import Path

import pytest

from tests.support.infra import proxy_env
from tests.support.overrides import (
    PinnableSnap,
    device_refresh,
    pinnable_snap,
    publish_revision,
)
from tests.support.proxies import ADMIN_TOKEN, SNAP_PROXY, ProxyUnderTest
from tests.support.sim import SimHandle
from tests.support.snapclient import snap_download


@pytest.fixture
def snap(sim: SimHandle) -> PinnableSnap:
    return pinnable_snap(sim)


def cli(
    proxy: ProxyUnderTest, *args: str, token: str | None = ADMIN_TOKEN
) -> subprocess.CompletedProcess[str]:
    """``snap-proxy ARGS --url PROXY --token TOKEN`` from a shell with no SNAPPROXY_*."""
    options = ["--url", proxy.url, *(["--token", token] if token else [])]
    return subprocess.run(
        [*SNAP_PROXY, *args, *options],
        env=proxy_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def installs(proxy: ProxyUnderTest, snap: PinnableSnap, channel: str = "stable") -> int:
    """The revision an amd64 device installing from ``channel`` gets."""
    action = {"action": "install", "instance-key": "k", "name": snap.name, "channel": channel}
    return int(device_refresh(proxy.url, action | {"epoch": None})["snap"]["revision"])


def downloads(proxy: ProxyUnderTest, snap: PinnableSnap, where: Path) -> int | None:
    result = snap_download(proxy.url, snap.name, cwd=where)
    assert result.stopped_at_trust_check, result.describe()
    return result.revision


def test_override_list_and_delete(any_proxy: ProxyUnderTest, snap: PinnableSnap) -> None:
    done = cli(any_proxy, "override", snap.name, "stable=1", "latest/beta=4")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{snap.name} beta amd64 4",
        f"{snap.name} stable amd64 1",
    ]
    listed = cli(any_proxy, "list-overrides", snap.name)
    assert listed.stdout.splitlines() == [
        f"{snap.name} beta amd64 4 (none)",  # nothing released there upstream
        f"{snap.name} stable amd64 1 (2)",
    ]
    assert installs(any_proxy, snap) == 1

    deleted = cli(any_proxy, "delete-override", snap.name, "stable")
    assert deleted.returncode == 0, deleted.stderr
    assert installs(any_proxy, snap) == 2  # the very next request
    assert cli(any_proxy, "list-overrides", snap.name).stdout.splitlines() == [
        f"{snap.name} beta amd64 4 (none)"
    ]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("override", "no-such-snap-at-all", "stable=1"), 1, "no snap named 'no-such-snap-at-all'"),
        (("override", "{snap}", "stable=77"), 1, "has no revision 77"),
        (("override", "{snap}", "stable"), 2, "write CHANNEL=REVISION"),
        (("override", "{snap}", "stable=0"), 2, "write CHANNEL=REVISION"),
        (("override", "{snap}", "nightly/x/y/z=1"), 1, "invalid channel"),
    ],
)
def test_refusals_say_what_is_wrong_and_change_nothing(
    any_proxy: ProxyUnderTest, snap: PinnableSnap, args: tuple[str, ...], code: int, message: str
) -> None:
    done = cli(any_proxy, *(a.format(snap=snap.name) for a in args))
    assert done.returncode == code, done.stdout + done.stderr
    assert message in done.stderr
    assert cli(any_proxy, "list-overrides", snap.name).stdout == ""


def test_the_token_is_needed(any_proxy: ProxyUnderTest, snap: PinnableSnap) -> None:
    missing = cli(any_proxy, "override", snap.name, "stable=1", token=None)
    assert missing.returncode == 2 and "--token or SNAPPROXY_ADMIN_TOKEN" in missing.stderr
    wrong = cli(any_proxy, "override", snap.name, "stable=1", token="not-the-token")
    assert wrong.returncode == 1 and "HTTP 401" in wrong.stderr
    assert cli(any_proxy, "list-overrides", snap.name).stdout == ""


def test_freeze_holds_devices_through_a_new_release_until_unfreeze(
    any_proxy: ProxyUnderTest, sim: SimHandle, snap: PinnableSnap, tmp_path: Path
) -> None:
    assert downloads(any_proxy, snap, tmp_path / "seen") == 2  # the proxy has seen stable
    frozen = cli(any_proxy, "freeze", snap.name)
    assert frozen.returncode == 0, frozen.stderr
    assert f"{snap.name} stable amd64 - -> 2" in frozen.stdout.splitlines()

    newer = publish_revision(sim, snap, ["latest/stable"])
    assert downloads(any_proxy, snap, tmp_path / "frozen") == 2

    thawed = cli(any_proxy, "unfreeze", snap.name)
    assert f"{snap.name} stable amd64 2 -> -" in thawed.stdout.splitlines()
    assert downloads(any_proxy, snap, tmp_path / "thawed") == newer

    log = cli(any_proxy, "overrides-log", snap.name).stdout.splitlines()
    who = f"{getpass.getuser()}@"
    assert any(who in line and " unfreeze " in line and "2 -> -" in line for line in log), log
    assert any(who in line and " freeze " in line and "- -> 2" in line for line in log), log


def test_promote_gives_stable_what_candidate_gets(
    any_proxy: ProxyUnderTest, snap: PinnableSnap
) -> None:
    promoted = cli(any_proxy, "promote", snap.name, "candidate", "stable")
    assert promoted.returncode == 0, promoted.stderr
    # arm64's candidate is closed: its devices get stable's r3, and so stays its stable.
    assert promoted.stdout.splitlines() == [
        f"{snap.name} stable amd64 - -> 4",
        f"{snap.name} stable arm64 - -> 3",
    ]
    assert installs(any_proxy, snap) == 4
    assert installs(any_proxy, snap, "candidate") == 4
    # edge is closed: its devices get candidate's, r4.
    edge = cli(any_proxy, "promote", snap.name, "edge", "beta")
    assert edge.stdout.splitlines()[0] == f"{snap.name} beta amd64 - -> 4"
    nothing = cli(any_proxy, "promote", snap.name, "2.0/edge", "stable")
    assert nothing.returncode == 1 and "get no revision" in nothing.stderr
