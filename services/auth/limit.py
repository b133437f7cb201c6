"""``proxy.device-limit``: at most that many devices are connected at once.

A device is *connected* when the upstream granted it a session (it is verified, keyed by
brand, model and serial) within the last :data:`CONNECTED_WINDOW`: the figure ``snap-proxy
status`` shows as "Connected Devices (updated daily)". With a limit set, a session request
from a device that is not connected is refused (before it is relayed) while the connected
devices number the limit or more; connected devices keep getting sessions. Each refusal is
logged and counted (``auth.device_refusals``). Requests without a serial the proxy can read
are not devices and are not limited (the upstream judges them).

Replicas do not lock each other out: two new devices admitted at the same instant by two
replicas may take the count one past the limit (it is a licence-style cap, not a quota).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.errors import SnapProxyError

CONNECTED_WINDOW = timedelta(hours=24)


class DeviceLimitReached(SnapProxyError):
    """A new device's session request, refused: the proxy serves its limit of devices."""

    status_code = 403
    code = "device-limit-reached"


def connected_since(now: datetime) -> datetime:
    return now - CONNECTED_WINDOW


def limit_message(limit: int, connected: int) -> str:
    return (
        f"this store proxy serves at most {limit} devices (proxy.device-limit) and "
        f"{connected} are connected (a session in the last 24 hours); this device is new, "
        "so it gets no session: ask the proxy's admin to raise proxy.device-limit"
    )
