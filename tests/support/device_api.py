"""Requests the device-API tests build, and what they check of the answers."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from tests.support.sim import SimHandle

REFRESH = "/v2/snaps/refresh"
# The ``fields`` snapd 2.57 sends with every snap action.
SNAPD_FIELDS = [
    "architectures", "base", "confinement", "contact", "created-at", "description", "download",
    "epoch", "license", "name", "prices", "private", "publisher", "revision", "snap-id",
    "snap-yaml", "summary", "title", "type", "version", "website", "store-url", "media",
    "common-ids",
]  # fmt: skip
ZERO_EPOCH = {"read": [0], "write": [0]}
# The assertions service's errors: not-found is application/problem+json, as snapd reads it.
ASSERTION_ERROR_TYPES = ("application/json", "application/problem+json")


# -- helpers shared by the device API tests ---------------------------------------------------


def assert_store_error(
    response: httpx.Response,
    status: int | None = None,
    code: str | None = None,
    media_types: tuple[str, ...] = ("application/json",),
) -> dict[str, Any]:
    """A 4xx/5xx in the Store's shape: JSON ``{"error-list": [{"code", "message"}]}`` with
    one of ``media_types`` as its exact Content-Type; the first error is returned."""
    if status is not None:
        assert response.status_code == status, response.text
    assert response.status_code >= 400, response.text
    assert response.headers["content-type"] in media_types, response.headers
    body = response.json()
    errors = body["error-list"]
    assert isinstance(errors, list) and errors, body
    for error in errors:
        assert isinstance(error["code"], str) and error["code"], body
        assert isinstance(error["message"], str) and error["message"], body
    if code is not None:
        assert errors[0]["code"] == code, body
    return dict(errors[0])


def snap_id(sim: SimHandle, name: str) -> str:
    for snap in sim.catalogue()["snaps"]:
        if snap["name"] == name:
            return str(snap["snap-id"])
    raise KeyError(name)


def context_entry(
    sid: str, revision: int, channel: str = "latest/stable", key: str = ""
) -> dict[str, Any]:
    return {
        "snap-id": sid,
        "instance-key": key or sid,
        "revision": revision,
        "tracking-channel": channel,
        "epoch": ZERO_EPOCH,
        "refreshed-date": "2024-05-01T12:00:00.000000000Z",
    }


def install(name: str, key: str = "install-1", **extra: Any) -> dict[str, Any]:
    return {"action": "install", "instance-key": key, "name": name, "epoch": None, **extra}


def download(name: str, key: str, **extra: Any) -> dict[str, Any]:
    return {"action": "download", "instance-key": key, "name": name, "epoch": None, **extra}


def refresh_action(sid: str, key: str = "", **extra: Any) -> dict[str, Any]:
    return {"action": "refresh", "instance-key": key or sid, "snap-id": sid, **extra}


def refresh_body(
    actions: list[dict[str, Any]], context: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"context": context or [], "actions": actions, "fields": SNAPD_FIELDS}


def download_urls(answer: dict[str, Any]) -> list[str]:
    """Every URL under ``snap.download`` (and its deltas) of a refresh answer."""
    urls = []
    for result in answer.get("results", []):
        blob = (result.get("snap") or {}).get("download") or {}
        urls += [blob["url"]] if "url" in blob else []
        urls += [delta["url"] for delta in blob.get("deltas") or []]
    return urls


def sim_requests(sim: SimHandle) -> int:
    return sum(sim.stats()["requests"].values())


def sha3(data: bytes) -> str:
    return hashlib.sha3_384(data).hexdigest()
