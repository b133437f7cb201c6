"""The download path's domain errors; ``shared.errors`` maps them to HTTP in one place
(a 503 there gets ``Retry-After``)."""

from __future__ import annotations

from shared.errors import SnapProxyError


class FillError(SnapProxyError):
    """A fill did not produce the recorded bytes; nothing was cached. The message says whose
    fault it was: the upstream's (unreachable, wrong bytes) or the proxy's own (its disk)."""

    status_code = 503
    code = "upstream-unavailable"

    def __init__(self, message: str, *, local: bool = False) -> None:
        super().__init__(message, code="storage-unavailable" if local else None)
        self.local = local


class NotFillingHere(SnapProxyError):
    """Another node asked this process for a fill it does not own (it ended, or moved)."""

    status_code = 404
    code = "not-found"


class StorageUnavailable(SnapProxyError):
    """The blob store (the object store of the S3 backend) did not answer or refused."""

    status_code = 503
    code = "storage-unavailable"


class TooManyFills(SnapProxyError):
    """More snaps are being fetched upstream right now than the proxy allows."""

    status_code = 503
    code = "too-many-downloads"


class LedgerUnavailable(SnapProxyError):
    """The cache's bookkeeping database did not answer (after one retry)."""

    status_code = 503
    code = "service-unavailable"


class RangeNotSatisfiable(SnapProxyError):
    status_code = 416
    code = "range-not-satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__(f"range not satisfiable: the file has {size} bytes")
        self.headers["Content-Range"] = f"bytes */{size}"
