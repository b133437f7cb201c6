"""A small LRU whose entries expire: the downloads service's process-local memories (revision
facts, upstream answers, blobs found in the store)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Expiring(Generic[V]):
    """At most ``max_entries`` values, each for ``ttl`` seconds after it was put. Safe to use
    from the event loop and the blob I/O threads at once (one short lock per call)."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self.drops = 0  # how many drops so far (see ``put``)

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._entries.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: Hashable, value: V, drops_seen: int | None = None) -> None:
        """``drops_seen``: the ``drops`` count read before ``value`` was looked up; the value
        is not kept when a drop came in between (it may be what was dropped)."""
        with self._lock:
            if drops_seen is not None and drops_seen != self.drops:
                return
            self._entries[key] = (time.monotonic() + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def drop(self, key: Hashable) -> None:
        with self._lock:
            self.drops += 1
            self._entries.pop(key, None)
