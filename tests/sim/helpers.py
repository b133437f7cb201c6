"""Shared helpers for the simulator tests (snap actions are built with
``tests.support.device_api``, as in the proxy's tests)."""

from __future__ import annotations

from typing import Any

import httpx

from tools.snap_store_sim.ids import snap_id_for

HELLO_ID = snap_id_for("hello-sim")
PRIVATE_SNAP = "private-app"  # added by the ``private_snap`` fixture
PRIVATE_ID = snap_id_for(PRIVATE_SNAP)
PRIVATE_CATEGORY = "private-section"
SESSION_BODY = {"device-session-request": "r", "serial-assertion": "s", "model-assertion": "m"}
STORE_SNAP_FIELDS = {
    "architectures", "base", "confinement", "created-at", "description", "download", "epoch",
    "license", "name", "prices", "private", "publisher", "revision", "snap-id", "snap-yaml",
    "summary", "title", "type", "version", "media", "contact", "website", "store-url",
    "common-ids",
}  # fmt: skip


def refresh(
    client: httpx.Client,
    actions: list[dict[str, Any]],
    context: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **body: Any,
) -> dict[str, Any]:
    response = client.post(
        "/v2/snaps/refresh",
        json={"context": context or [], "actions": actions, **body},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    data: dict[str, Any] = response.json()
    return data


def one(client: httpx.Client, action: dict[str, Any], **kw: Any) -> dict[str, Any]:
    results = refresh(client, [action], **kw)["results"]
    assert len(results) == 1
    result: dict[str, Any] = results[0]
    return result


def device_session(client: httpx.Client) -> str:
    """A device-session macaroon from the simulator's sessions endpoint."""
    response = client.post("/api/v1/snaps/auth/sessions", json=SESSION_BODY)
    assert response.status_code == 200, response.text
    macaroon: str = response.json()["macaroon"]
    return macaroon
