"""devicegw's rewrite of upstream answers (services/devicegw/rewrite.py, refresh.py): every
download URL a device gets points at the proxy, and what the answer shows is recorded."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from services.devicegw.refresh import offline_answer, offline_queries, rewrite_refresh_answer
from services.devicegw.rewrite import (
    rewrite_find,
    rewrite_info,
    rewrite_snap,
    rewrite_stream_url,
)
from shared.errors import UpstreamUnavailable
from shared.revisions_api import Observation, ResolveQuery, RevisionOut

PROXY = "http://proxy.test:8000"
SNAP_ID = "mVyGrEwiqSi5PugCwyH7WgpoQLemtTd6"
SHA3 = "ab" * 48
BLOB_URL = "https://api.snapcraft.io/api/v1/snaps/download/mVyGrEwiqSi5PugCwyH7WgpoQLemtTd6_29.snap"
PROXY_URL = f"{PROXY}/api/v1/snaps/download/{SNAP_ID}_29.snap"


def store_snap(**extra: Any) -> dict[str, Any]:
    return {
        "snap-id": SNAP_ID,
        "name": "hello",
        "revision": 29,
        "architectures": ["amd64"],
        "download": {
            "url": BLOB_URL,
            "sha3-384": SHA3,
            "size": 4096,
            "deltas": [{"url": "https://api.snapcraft.io/delta", "source": 28}],
        },
        **extra,
    }


def test_a_download_points_at_the_proxy_and_is_recorded() -> None:
    snap = store_snap()
    observation = Observation()
    rewrite_snap(snap, PROXY, observation)
    assert snap["download"]["url"] == PROXY_URL
    assert snap["download"]["deltas"] == []  # a device without deltas gets the full snap
    [recorded] = observation.revisions
    assert (recorded.snap_id, recorded.name, recorded.revision) == (SNAP_ID, "hello", 29)
    assert (recorded.sha3_384, recorded.size) == (SHA3, 4096)
    assert recorded.upstream_url == BLOB_URL  # where the proxy fetches it
    assert recorded.snap["download"]["url"] == BLOB_URL  # as the upstream said it
    assert recorded.architectures == ["amd64"]


def test_the_name_and_snap_id_may_come_from_around_the_snap() -> None:
    snap = store_snap()
    del snap["snap-id"], snap["name"]
    observation = Observation()
    rewrite_snap(snap, PROXY, observation, name="hello", snap_id=SNAP_ID)
    assert snap["download"]["url"] == PROXY_URL
    assert observation.revisions[0].name == "hello"


@pytest.mark.parametrize(
    "change",
    [
        {"download": {"url": BLOB_URL, "sha3-384": "not-a-digest", "size": 1}},
        {"download": {"url": BLOB_URL, "sha3-384": SHA3, "size": "1"}},
        {"download": {"url": BLOB_URL, "sha3-384": SHA3 + "\n", "size": 1}},
    ],
    ids=["sha3", "size", "sha3-newline"],
)
def test_a_download_the_proxy_cannot_verify_is_not_recorded(change: dict[str, Any]) -> None:
    snap = store_snap(**change)
    observation = Observation()
    rewrite_snap(snap, PROXY, observation)
    assert observation.revisions == []
    assert snap["download"]["url"] == PROXY_URL  # still never the upstream's URL


@pytest.mark.parametrize(
    "change",
    [{"snap-id": "bad id"}, {"revision": 0}, {"revision": True}, {"download": "x"}],
    ids=["snap-id", "revision-0", "revision-bool", "download"],
)
def test_what_names_no_revision_is_left_alone(change: dict[str, Any]) -> None:
    snap = store_snap(**change)
    before = copy.deepcopy(snap)
    observation = Observation()
    rewrite_snap(snap, PROXY, observation)
    assert observation.revisions == []
    assert snap == before


def test_info_rewrites_every_channel_map_entry_and_notes_its_channel() -> None:
    entry = store_snap(channel={"track": "latest", "risk": "stable", "architecture": "arm64"})
    del entry["snap-id"], entry["name"]
    answer: dict[str, Any] = {"name": "hello", "snap-id": SNAP_ID, "channel-map": [entry]}
    observation = Observation()
    rewrite_info(answer, PROXY, observation)
    assert answer["channel-map"][0]["download"]["url"] == PROXY_URL
    [channel] = observation.channels
    assert (channel.name, channel.architecture, channel.channel) == (
        "hello",
        "arm64",
        "latest/stable",
    )
    assert channel.revision == 29


def test_find_rewrites_each_result() -> None:
    answer: dict[str, Any] = {
        "results": [{"name": "hello", "snap-id": SNAP_ID, "revision": store_snap()}, "odd"]
    }
    observation = Observation()
    rewrite_find(answer, PROXY, observation)
    assert answer["results"][0]["revision"]["download"]["url"] == PROXY_URL
    assert len(observation.revisions) == 1


def test_a_stream_url_keeps_its_path_and_query_on_the_proxy() -> None:
    upstream = "https://api.snapcraft.io/v2/assertions/snap-revision/abc?max-format=1&x=y"
    assert rewrite_stream_url(upstream, PROXY) == (
        f"{PROXY}/v2/assertions/snap-revision/abc?max-format=1&x=y"
    )


def refresh_request(**action: Any) -> dict[str, Any]:
    return {
        "context": [{"snap-id": SNAP_ID, "instance-key": "k", "revision": 28,
                     "tracking-channel": "latest/candidate"}],
        "actions": [{"action": "refresh", "instance-key": "k", "snap-id": SNAP_ID, **action}],
    }  # fmt: skip


def refresh_answer() -> dict[str, Any]:
    return {
        "results": [
            {
                "result": "refresh",
                "instance-key": "k",
                "snap-id": SNAP_ID,
                "name": "hello",
                "effective-channel": "latest/stable",
                "snap": store_snap(),
                "assertion-stream-urls": ["https://api.snapcraft.io/v2/assertions/x?y=1"],
            }
        ]
    }


def test_a_refresh_answer_points_at_the_proxy_and_notes_the_channels() -> None:
    answer = refresh_answer()
    observation = rewrite_refresh_answer(answer, refresh_request(), PROXY, "amd64")
    [result] = answer["results"]
    assert result["snap"]["download"]["url"] == PROXY_URL
    assert result["assertion-stream-urls"] == [f"{PROXY}/v2/assertions/x?y=1"]
    assert [r.revision for r in observation.revisions] == [29]
    # The channel the answer came from, and the one the device tracks (no revision asked).
    assert sorted(c.channel for c in observation.channels) == ["latest/candidate", "latest/stable"]
    assert {c.architecture for c in observation.channels} == {"amd64"}


def test_a_pinned_revision_says_nothing_of_the_tracked_channel() -> None:
    observation = rewrite_refresh_answer(
        refresh_answer(), refresh_request(revision=29), PROXY, "amd64"
    )
    assert [c.channel for c in observation.channels] == ["latest/stable"]


def recorded(private: bool = False) -> RevisionOut:
    snap = store_snap()
    return RevisionOut(
        snap_id=SNAP_ID, name="hello", revision=29, architectures=["amd64"], sha3_384=SHA3,
        size=4096, upstream_url=BLOB_URL, snap=snap, private=private,
    )  # fmt: skip


def test_offline_queries_follow_the_tracked_channel() -> None:
    [(action, query)] = offline_queries(refresh_request(), "amd64")
    assert action["instance-key"] == "k"
    assert query == ResolveQuery(
        snap_id=SNAP_ID, architecture="amd64", channel="latest/candidate", revision=None
    )


def test_an_offline_answer_is_made_of_recorded_revisions() -> None:
    pairs = offline_queries(refresh_request(), "amd64")
    answer = offline_answer(pairs, [recorded()], PROXY)
    [result] = answer["results"]
    assert result["result"] == "refresh" and result["instance-key"] == "k"
    assert result["effective-channel"] == "latest/candidate"
    assert result["snap"]["download"]["url"] == PROXY_URL


@pytest.mark.parametrize("known", [None, recorded(private=True)], ids=["unknown", "private"])
def test_nothing_offline_to_offer_is_unavailable(known: RevisionOut | None) -> None:
    pairs = offline_queries(refresh_request(), "amd64")
    with pytest.raises(UpstreamUnavailable, match="has not seen"):
        offline_answer(pairs, [known], PROXY)
