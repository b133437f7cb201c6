"""Single byte ranges, as snapd and resuming clients send them (``bytes=N-`` mostly)."""

from __future__ import annotations

import re

from shared.errors import SnapProxyError

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(SnapProxyError):
    status_code = 416
    code = "range-not-satisfiable"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive for a single satisfiable range; None to send the whole file.

    Multiple ranges and malformed headers are ignored (the whole file is sent), as RFC 9110
    allows; a range that starts past the end is RangeNotSatisfiable.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise _unsatisfiable(size)
        return max(size - length, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if end < start:
        return None
    if start >= size:
        raise _unsatisfiable(size)
    return start, min(end, size - 1)


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    error = RangeNotSatisfiable(f"range not satisfiable: the file has {size} bytes")
    error.headers["Content-Range"] = f"bytes */{size}"
    return error
