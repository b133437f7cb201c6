"""What the blob cache is asked with and answers: its limits, who asks, a hit or a stream,
the fills in progress."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.downloads.storage import StoredBlob


@dataclass(frozen=True)
class CacheLimits:
    """How much the cache may do at once, and when a resume bypasses a fill."""

    max_fills: int = 16
    max_fills_per_client: int = 4
    resume_ahead: int = 16 * 1024 * 1024  # bytes beyond a fill's position: go upstream
    stall_limit: float = 50.0
    shutdown_grace: float = 10.0
    # S3 backend: hits are presigned URLs valid this long (the gateway fetches them, or the
    # client is redirected to them); 0: this process streams them.
    object_urls_seconds: int = 0


@dataclass(frozen=True)
class Requester:
    """Who asks: the client address (fills are bounded per address) and, for a private
    revision the upstream gave them, the store credentials the fill is fetched with."""

    address: str | None = None
    credentials: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """A committed blob: a local file (``stored.path``), or an object with a presigned
    ``url`` the gateway fetches (or the client is sent to)."""

    stored: StoredBlob
    url: str | None = None


@dataclass(frozen=True)
class FileSegment:
    """``count`` bytes of an open file from ``offset``, for a server that sends files
    itself (``http.response.zerocopysend``); the file stays open until the next part is
    asked for."""

    fd: int
    offset: int
    count: int

    def __len__(self) -> int:
        return self.count


Chunk = bytes | FileSegment  # what a stream yields: bytes, or parts of a file (zero_copy)


@dataclass(frozen=True)
class Stream:
    body: AsyncIterator[Chunk]


@dataclass(frozen=True)
class FillProgress:
    """One fill in progress, as the admin's list shows it (None: not known here)."""

    name: str | None
    revision: int | None
    sha3_384: str
    size: int
    written: int | None
    followers: int | None
    started_at: datetime
    heartbeat_at: datetime
