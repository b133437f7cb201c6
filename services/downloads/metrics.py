"""The download cache's Prometheus metrics (exported on ``/metrics``, ``shared.metrics``).

Every value is counted where it happens, in memory (a counter's add): a hit adds to these as
it adds to :class:`~services.downloads.counters.HitCounters`, with no database work. Gauges
go up and down with the fills and followers they count, so several worker processes sum
(multiprocess mode: ``livesum``).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CACHE_HITS = Counter("snapproxy_cache_hits_total", "Downloads answered from a stored blob.")
CACHE_MISSES = Counter(
    "snapproxy_cache_misses_total",
    "Downloads that were not in the cache: streamed from a fill, or relayed uncached.",
)
CACHE_HIT_BYTES = Counter(
    "snapproxy_cache_hit_bytes_total",
    "Bytes served from stored blobs (hits): bytes that did not cross the internet again "
    "(`snap-proxy cache stats`' bytes from cache, its bytes saved).",
)
CACHE_FILL_STREAMED_BYTES = Counter(
    "snapproxy_cache_fill_streamed_bytes_total",
    "Bytes streamed to clients from fills in progress (each follower of a fill counted).",
)
CACHE_UPSTREAM_BYTES = Counter(
    "snapproxy_cache_upstream_bytes_total",
    "Bytes of snaps fetched from the upstream: `fill` (into the cache), `passthrough` "
    "(relayed uncached: too big to cache, or a resume far ahead of a fill).",
    ["kind"],
)
CACHE_FILLS = Counter(
    "snapproxy_cache_fills_total",
    "Fills this process ran to the end, by outcome: committed, failed, abandoned (the "
    "process stopped; another one takes the fill over).",
    ["outcome"],
)
CACHE_FILL_CLAIMS = Counter(
    "snapproxy_cache_fill_claims_total",
    "Times this process asked the ledger who fills a blob. Requests for one blob settle it "
    "one at a time, so many devices asking for a new snap at once make one claim.",
)
CACHE_FILLS_IN_FLIGHT = Gauge(
    "snapproxy_cache_fills_in_flight",
    "Blobs this process is fetching from the upstream now.",
    multiprocess_mode="livesum",
)
CACHE_FOLLOWERS = Gauge(
    "snapproxy_cache_followers",
    "Responses streaming a blob while it is being filled (here or by another process).",
    multiprocess_mode="livesum",
)
CACHE_EVICTIONS = Counter(
    "snapproxy_cache_evictions_total",
    "Blobs dropped from the cache, by reason: lru (the size cap or the free-space reserve), "
    "admin (`snap-proxy cache evict`), verify (`snap-proxy cache verify`: corrupt or missing).",
    ["reason"],
)
CACHE_EVICTED_BYTES = Counter(
    "snapproxy_cache_evicted_bytes_total",
    "Bytes of the blobs dropped from the cache, by reason (as snapproxy_cache_evictions_total).",
    ["reason"],
)


def evicted(reason: str, size: int) -> None:
    CACHE_EVICTIONS.labels(reason).inc()
    CACHE_EVICTED_BYTES.labels(reason).inc(size)


# Every known label value, at zero from the start: a series exists before its first event.
for _kind in ("fill", "passthrough"):
    CACHE_UPSTREAM_BYTES.labels(_kind)
for _outcome in ("committed", "failed", "abandoned"):
    CACHE_FILLS.labels(_outcome)
for _reason in ("lru", "admin", "verify"):
    CACHE_EVICTIONS.labels(_reason)
    CACHE_EVICTED_BYTES.labels(_reason)
