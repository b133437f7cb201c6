"""Single byte ranges, as snapd and resuming clients send them (``bytes=N-`` mostly)."""

from __future__ import annotations

import re

from services.downloads.errors import RangeNotSatisfiable
from shared.errors import BadRequest

# At most 19 digits: every offset of a real file fits (2**63 has 19 digits); a longer
# number is an invalid request, not something to hand to int().
_RANGE = re.compile(r"bytes=(\d{0,19})-(\d{0,19})")
_MAX_HEADER = 200


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive for a single satisfiable range; None to send the whole file.

    Multiple ranges and other units are ignored (the whole file is sent), as RFC 9110
    allows; a range that starts past the end is RangeNotSatisfiable; a header that is
    too long or has absurd numbers is BadRequest.
    """
    if not header:
        return None
    if len(header) > _MAX_HEADER:
        raise BadRequest(f"Range header over {_MAX_HEADER} characters")
    text = header.strip().replace(" ", "")
    if "," in text or not text.startswith("bytes="):
        return None
    match = _RANGE.fullmatch(text)
    if match is None:
        if re.fullmatch(r"bytes=\d*-\d*", text):
            raise BadRequest("Range offsets have more digits than any file has bytes")
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable(size)
        return max(size - length, 0), size - 1
    start = int(first)
    if last and int(last) < start:  # an invalid range: ignored
        return None
    if start >= size:
        raise RangeNotSatisfiable(size)
    end = int(last) if last else size - 1
    return start, min(end, size - 1)
