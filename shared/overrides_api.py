"""The overrides as the revisions service hands them to devicegw (internal API), and the
shared-cache key that tells every devicegw process they changed.

The revisions service owns the overrides; devicegw keeps the whole set in memory (it is
small: one row per pinned channel and architecture) and reads it again when the generation
in the shared cache changes, or after ``SNAPPROXY_OVERRIDES_MAX_AGE`` seconds without a
shared cache.
"""

from __future__ import annotations

from typing import Any

import httpx
import structlog
from pydantic import BaseModel, Field

log = structlog.get_logger(__name__)

# Set (to a fresh token) by the revisions service after every committed change.
GENERATION_KEY = "overrides:generation"
GENERATION_TTL = 30 * 86400
# At most this many pins in all: the snapshot travels whole to every devicegw process.
MAX_OVERRIDES = 20_000


class PinnedRevision(BaseModel):
    """One pin: devices asking ``channel`` (full name) on ``architecture`` get ``snap``, the
    upstream's answer for that revision (its ``download.url`` still the upstream's)."""

    snap_id: str
    snap_name: str
    channel: str
    architecture: str
    revision: int
    snap: dict[str, Any] = Field(default_factory=dict)


class OverrideSnapshot(BaseModel):
    overrides: list[PinnedRevision] = Field(default_factory=list)


class OverridesClient:
    """devicegw's call to the revisions service; None when it cannot be read."""

    def __init__(self, peers: dict[str, httpx.AsyncClient], timeout: float = 3.0) -> None:
        self.peers = peers  # filled after the apps are built when embedded: look up late
        self.timeout = timeout

    async def snapshot(self) -> OverrideSnapshot | None:
        try:
            response = await self.peers["revisions"].get(
                "/_internal/overrides", timeout=self.timeout
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("overrides.read_failed", error=str(exc) or type(exc).__name__)
            return None
        return OverrideSnapshot.model_validate_json(response.content)
