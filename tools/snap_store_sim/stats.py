"""Request and blob counters (``GET /_sim/stats``)."""

from __future__ import annotations

from collections import Counter
from typing import Any


class Stats:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.blobs: dict[str, dict[str, int]] = {}
        self.actions: Counter[str] = Counter()
        self.assertions: Counter[str] = Counter()

    def request(self, method: str, template: str) -> None:
        self.requests[f"{method} {template}"] += 1

    def blob_request(self, name: str) -> None:
        self.blobs.setdefault(name, {"requests": 0, "bytes": 0})["requests"] += 1

    def blob_bytes(self, name: str, count: int) -> None:
        self.blobs.setdefault(name, {"requests": 0, "bytes": 0})["bytes"] += count

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": dict(sorted(self.requests.items())),
            "blobs": {name: dict(value) for name, value in sorted(self.blobs.items())},
            "actions": dict(sorted(self.actions.items())),
            "assertions": dict(sorted(self.assertions.items())),
        }

    def reset(self) -> None:
        self.requests.clear()
        self.blobs.clear()
        self.actions.clear()
        self.assertions.clear()
