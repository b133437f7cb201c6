"""Finding 3 on the internal API: a service's port reads no body before the caller is known.

``/_internal/`` bodies may be large (one observation records a refresh of hundreds of snaps,
up to 16 MiB), so the internal secret is checked before a byte of the body is read, the way
the admin token is on the admin API: a caller without it gets 401 at once, whatever it
announces, and a service with it can send more than the public 1 MiB."""

from __future__ import annotations

import json

import httpx

from shared.split import SplitTopology
from tests.security.hardened import WITH_SECRET

OBSERVATIONS = "/_internal/observations"


def test_no_secret_no_body_read(split_hardened: SplitTopology) -> None:
    revisions = split_hardened.service_urls["revisions"]
    body = b"x" * (8 * 1024 * 1024)
    response = httpx.post(revisions + OBSERVATIONS, content=body, timeout=30)
    assert response.status_code == 401, response.text
    assert response.json()["error-list"][0]["code"] == "unauthorized"


def test_a_service_may_send_more_than_the_public_limit(split_hardened: SplitTopology) -> None:
    revisions = split_hardened.service_urls["revisions"]
    channels = [
        {
            "snap_id": f"id{n:04d}",
            "name": f"name-{n}",
            "architecture": "amd64",
            "channel": "latest/stable",
            "revision": 1,
        }
        for n in range(5000)
    ]
    body = json.dumps({"revisions": [], "channels": channels, "padding": "x" * 1_200_000})
    assert len(body) > 1024 * 1024
    response = httpx.post(
        revisions + OBSERVATIONS,
        content=body,
        headers={**WITH_SECRET, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 204, response.text
