"""Request and blob counters (``GET /_sim/stats``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from starlette.types import Scope

# Counters ``blobs[<file>]`` has for the blob of a private snap only, besides ``requests`` and
# ``bytes`` (what the CDN served, as for every blob): its download URL asked with accepted
# store credentials (redirected with a grant) or without them (404), and CDN requests
# refused for want of a valid grant (see access.py).
PRIVATE_BLOB_EVENTS = ("api-granted", "api-refused", "cdn-refused")


class Stats:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.blobs: dict[str, dict[str, int]] = {}
        self.actions: Counter[str] = Counter()
        self.assertions: Counter[str] = Counter()
        # Credentials the Store API saw, as "header: value" (tests prove what is relayed).
        self.credentials: Counter[str] = Counter()
        # Who each API and CDN request came through: its Via header (a forward proxy adds
        # one to a plain-HTTP request it relays), or "direct" when it has none.
        self.via: Counter[str] = Counter()
        # The connections requests came on, per server ("api", "cdn"): each a peer address
        # and port. A forward proxy opens one for each CONNECT it is asked for.
        self.peers: dict[str, set[str]] = {}

    def request(self, method: str, template: str) -> None:
        self.requests[f"{method} {template}"] += 1

    def arrived(self, server: str, scope: Scope) -> None:
        """Where a request came from: its Via header and its connection."""
        found = [value.decode("latin-1") for name, value in scope["headers"] if name == b"via"]
        self.via[", ".join(found) or "direct"] += 1
        client = scope.get("client")
        if client:
            self.peers.setdefault(server, set()).add(f"{client[0]}:{client[1]}")

    def blob_request(self, name: str) -> None:
        self.blobs.setdefault(name, {"requests": 0, "bytes": 0})["requests"] += 1

    def blob_bytes(self, name: str, count: int) -> None:
        self.blobs.setdefault(name, {"requests": 0, "bytes": 0})["bytes"] += count

    def private_blob(self, name: str, event: str | None = None) -> None:
        """Count ``event`` (one of ``PRIVATE_BLOB_EVENTS``, or none) for a private blob."""
        entry = self.blobs.setdefault(name, {"requests": 0, "bytes": 0})
        for counter in PRIVATE_BLOB_EVENTS:
            entry.setdefault(counter, 0)
        if event is not None:
            entry[event] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": dict(sorted(self.requests.items())),
            "blobs": {name: dict(value) for name, value in sorted(self.blobs.items())},
            "actions": dict(sorted(self.actions.items())),
            "assertions": dict(sorted(self.assertions.items())),
            "credentials": dict(sorted(self.credentials.items())),
            "via": dict(sorted(self.via.items())),
            "connections": {server: len(peers) for server, peers in sorted(self.peers.items())},
        }

    def reset(self) -> None:
        self.requests.clear()
        self.blobs.clear()
        self.actions.clear()
        self.assertions.clear()
        self.credentials.clear()
        self.via.clear()
        self.peers.clear()
