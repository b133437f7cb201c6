"""A device's own store credentials: what makes a request (and its answer) private.

snapd sends a store user's ``Authorization: Macaroon ...`` and a device session
(``Snap-Device-Authorization`` on the v2 API, ``X-Device-Authorization`` on v1 paths and
downloads). An answer to a request that carries any of them may show what only that
requester may see (private snaps, brand stores): it is never served to anyone else, and the
revisions it reveals are recorded as private (downloads then ask the upstream whether a
requester may have them).

They are picked from the headers ``shared.upstream.relayed_headers`` keeps, which is where
the rule lives that of ``Authorization`` only the Macaroon scheme is a device's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def store_credentials(relayed: Mapping[str, str]) -> dict[str, str]:
    """The store credentials among a request's relayed headers, by their v2 names."""
    found: dict[str, str] = {}
    for name, value in relayed.items():
        key = name.lower()
        if key == "authorization":
            found["Authorization"] = value
        elif key in ("snap-device-authorization", "x-device-authorization") and value:
            found.setdefault("Snap-Device-Authorization", value)
    return found


def credentials_digest(credentials: Mapping[str, str]) -> str:
    """A stable digest of credentials, to key what is cached for that requester only."""
    joined = "\n".join(f"{name}:{value}" for name, value in sorted(credentials.items()))
    return hashlib.sha256(joined.encode("utf-8", "surrogateescape")).hexdigest()
