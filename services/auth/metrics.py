"""The auth service's Prometheus metrics: devices (``shared.metrics`` exports them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DEVICES = Gauge(
    "snapproxy_devices",
    "Devices the proxy has seen (rows of the auth service's device registry); counted when "
    "scraped.",
    multiprocess_mode="livemostrecent",
)
DEVICE_SESSIONS = Counter(
    "snapproxy_device_sessions_total",
    "Device session requests, by outcome: granted (the upstream gave a session), refused "
    "(it answered otherwise), upstream-unavailable.",
    ["outcome"],
)

for _outcome in ("granted", "refused", "upstream-unavailable"):  # at zero from the start
    DEVICE_SESSIONS.labels(_outcome)
