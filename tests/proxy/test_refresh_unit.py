"""The refresh request as devicegw reads it (``parse_refresh_request``): what passes is
relayed byte-exact, what does not is a 400 that never reaches the upstream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.devicegw.refresh import parse_refresh_request
from shared.errors import BadRequest
from shared.names import MAX_REVISION

SNAPD_REFRESH = {
    "context": [
        {
            "snap-id": "mVyGrEwiqSi5PugCwyH7WgpoQLemtTd6",
            "instance-key": "mVyGrEwiqSi5PugCwyH7WgpoQLemtTd6",
            "revision": 29,
            "tracking-channel": "latest/stable",
            "epoch": {"read": [0], "write": [0]},
            "refreshed-date": "2024-05-01T12:00:00.000000000Z",
        }
    ],
    "actions": [
        {
            "action": "refresh",
            "instance-key": "mVyGrEwiqSi5PugCwyH7WgpoQLemtTd6",
            "snap-id": "mVyGrEwiqSi5PugCwyH7WgpoQLemtTd6",
        },
        {"action": "install", "instance-key": "install-1", "name": "hello", "epoch": None},
        {"action": "download", "instance-key": "download-1", "name": "core22", "revision": 3},
        {"action": "fetch-assertions", "key": "g1", "assertions": [{"type": "account"}]},
    ],
    "fields": ["download", "revision", "snap-id"],
}


def install(**fields: Any) -> dict[str, Any]:
    return {"context": [], "actions": [{"action": "install", "instance-key": "i-1", **fields}]}


def test_what_snapd_sends_is_read_as_sent() -> None:
    body = json.dumps(SNAPD_REFRESH).encode()
    assert parse_refresh_request(body) == SNAPD_REFRESH


def test_fields_the_proxy_does_not_read_pass() -> None:
    document = install(name="hello", **{"cohort-key": "c", "validation-sets": [["a", "b"]]})
    document["unknown"] = {"anything": [1, None]}
    assert parse_refresh_request(json.dumps(document).encode()) == document


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff{}", "not valid JSON in UTF-8"),
        (b"{", "not valid JSON in UTF-8"),
        (b"[]", "must be a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b'{"actions": [], "x": "\\ud800"}', "unpaired surrogate"),
        (b'{"actions": [], "\\udfff": 1}', "unpaired surrogate"),
    ],
    ids=["latin-1", "truncated", "array", "nested", "surrogate-value", "surrogate-key"],
)
def test_a_body_that_is_not_a_json_object_in_utf8(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_refresh_request(body)


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"context": []}, "actions"),
        ({"actions": {}}, "actions"),
        ({"context": None, "actions": []}, "context"),
        ({"context": [1], "actions": []}, "context.0"),
        ({"context": [{"snap-id": "x", "instance-key": "x"}], "actions": []}, "revision"),
        (
            {"context": [{"snap-id": "x", "instance-key": "x", "revision": 2**31}], "actions": []},
            "revision",
        ),
        ({"actions": [], "fields": ["a", 1]}, "fields.1"),
        ({"actions": [1]}, "actions.0"),
        ({"actions": [{"action": "explode", "instance-key": "x"}]}, "action"),
        (install(), "install needs a name"),
        ({"actions": [{"action": "install", "name": "hello"}]}, "needs an instance-key"),
        (install(name=5), "name"),
        (install(name="Hello"), "invalid snap name"),
        (install(name="hello\n"), "invalid snap name"),
        (install(name="hello", revision=True), "revision"),
        (install(name="hello", revision="3"), "revision"),
        (install(name="hello", revision=0), "revision"),
        (install(name="hello", revision=MAX_REVISION + 1), "revision"),
        (install(name="hello", channel=["stable"]), "channel"),
        (install(name="hello", **{"cohort-key": 1}), "cohort-key"),
        ({"actions": [{"action": "refresh", "instance-key": "x"}]}, "needs a snap-id"),
        ({"actions": [{"action": "fetch-assertions", "assertions": []}]}, "needs a key"),
        (
            {"actions": [{"action": "fetch-assertions", "key": "k", "assertions": None}]},
            "assertions",
        ),
    ],
)
def test_what_the_proxy_relies_on_is_checked(document: dict[str, Any], where: str) -> None:
    with pytest.raises(BadRequest, match=where) as raised:
        parse_refresh_request(json.dumps(document).encode())
    assert raised.value.status_code == 400
    assert raised.value.message.startswith("invalid request: ")


def test_the_largest_revision_is_a_revision() -> None:
    document = install(name="hello", revision=MAX_REVISION)
    assert parse_refresh_request(json.dumps(document).encode()) == document
