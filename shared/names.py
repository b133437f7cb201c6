"""Snap names and revision numbers as the Store and snapd allow them.

A name is lowercase letters, digits and single hyphens, 1 to 40 characters, not starting or
ending with a hyphen. A revision is a positive 32-bit integer (in the Store and in our
tables); a larger number names no revision.
"""

from __future__ import annotations

import re

SNAP_NAME = re.compile(r"[a-z0-9](?:-?[a-z0-9]){0,39}")
MAX_REVISION = 2**31 - 1


def is_snap_name(text: str) -> bool:
    return SNAP_NAME.fullmatch(text) is not None
