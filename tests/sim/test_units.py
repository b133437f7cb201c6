"""Pure-function tests: channels, ranges, sizes, ids, fault validation."""

from __future__ import annotations

import pytest

from tools.snap_store_sim.cdn import parse_range
from tools.snap_store_sim.channels import Channel, ChannelError, parse_channel
from tools.snap_store_sim.cli import parse_fault, parse_size
from tools.snap_store_sim.faults import FaultError, Faults
from tools.snap_store_sim.ids import account_id_for, snap_id_for


@pytest.mark.parametrize(
    ("text", "full"),
    [
        ("stable", "latest/stable"),
        ("beta", "latest/beta"),
        ("latest/edge", "latest/edge"),
        ("2.0/stable", "2.0/stable"),
        ("2.0", "2.0/stable"),
        ("2.0/beta/hotfix", "2.0/beta/hotfix"),
        ("stable/fix-1", "latest/stable/fix-1"),
    ],
)
def test_parse_channel(text: str, full: str) -> None:
    assert parse_channel(text).full == full


@pytest.mark.parametrize("text", ["", "a/b/c/d", "latest/", "/stable", "2.0/bogus", " stable"])
def test_parse_channel_rejects(text: str) -> None:
    with pytest.raises(ChannelError):
        parse_channel(text)


def test_fall_through_goes_towards_stable() -> None:
    names = [c.full for c in parse_channel("2.0/edge").fall_through()]
    assert names == ["2.0/edge", "2.0/beta", "2.0/candidate", "2.0/stable"]
    assert [c.full for c in Channel("latest", "stable").fall_through()] == ["latest/stable"]
    assert parse_channel("beta/fix").fall_through()[:2] == [
        Channel("latest", "beta", "fix"),
        Channel("latest", "beta"),
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=10-", (10, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=100-", "unsatisfiable"),
        ("bytes=-0", "unsatisfiable"),
        ("bytes=5-2", None),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=x-y", None),
    ],
)
def test_parse_range(header: str | None, expected: object) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize(
    ("text", "size"),
    [("4096", 4096), ("8KiB", 8192), ("50MiB", 50 * 2**20), ("2M", 2 * 2**20), ("1GB", 10**9)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_parse_fault() -> None:
    assert parse_fault("error_status=503") == {"error_status": 503}
    assert parse_fault("corrupt") == {"corrupt": True}
    assert parse_fault('error-paths=["/v2/snaps/refresh"]') == {
        "error_paths": ["/v2/snaps/refresh"]
    }
    assert parse_fault('{"hang": true}') == {"hang": True}


def test_ids_are_stable_and_well_formed() -> None:
    assert snap_id_for("hello-sim") == snap_id_for("hello-sim")
    assert snap_id_for("hello-sim") != snap_id_for("hello-sim2")
    for value in (snap_id_for("x"), account_id_for("simdev")):
        assert len(value) == 32 and value.isalnum() and value.isascii()


@pytest.mark.parametrize(
    "bad",
    [
        {"nope": 1},
        {"latency_ms": -1},
        {"latency_ms": True},
        {"error_status": 200},
        {"error_status": "503"},
        {"hang": 1},
        {"bandwidth_bps": 0},
        {"error_paths": "/v2"},
        {"truncate_after": -5},
    ],
)
def test_fault_validation(bad: dict[str, object]) -> None:
    with pytest.raises(FaultError):
        Faults.from_json(bad)


def test_fault_merge_and_paths() -> None:
    base = Faults.from_json({"latency_ms": 5})
    merged = Faults.from_json({"corrupt": True}, base)
    assert merged.latency_ms == 5 and merged.corrupt
    scoped = Faults(error_status=503, error_paths=["/v2/snaps/info"])
    assert scoped.matches("/v2/snaps/info/x", default=True)
    assert not scoped.matches("/v2/snaps/find", default=True)
    assert Faults(error_status=503).matches("/download-origin/x", default=False) is False
