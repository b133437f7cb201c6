"""The proxy's store identity as devices see it: the store assertion ``snap ack`` takes.

``snap-proxy register`` keeps what the upstream signed in ``internal.store.assertions`` (a
live key: every replica serves it within config.poll-interval seconds of registering).
"""

from __future__ import annotations

from shared.errors import SnapProxyError
from shared.settings import Settings

ASSERTION_MEDIA_TYPE = "application/x.ubuntu.assertion"


class NotRegistered(SnapProxyError):
    status_code = 404
    code = "not-registered"


def served_assertions(settings: Settings) -> bytes:
    """The stream as the upstream sent it. A stream ends with one newline, which the stored
    configuration text (kept stripped) leaves out: it is put back. NotRegistered without."""
    stored = settings.store_assertions
    if not stored:
        raise NotRegistered(
            "this proxy is not registered with an upstream store, so it has no store "
            "assertion to give: its admin runs `snap-proxy register` (see "
            "docs/registration.md); until then devices use it without `snap ack` and "
            "`proxy.store`"
        )
    return stored.rstrip("\n").encode() + b"\n"
