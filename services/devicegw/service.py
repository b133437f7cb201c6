"""The device gateway's service layer: relay, rewrite, record, and survive upstream outages.

It takes plain values (:class:`~services.devicegw.relay.DeviceRequest`, the refresh body as
bytes) and returns plain answers (:class:`~services.devicegw.relay.Answer`); the routes do
the HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

from services.devicegw.airgap import AirgapAnswers, not_found
from services.devicegw.clients import OtherClients
from services.devicegw.overrides import OverrideBook, Pins
from services.devicegw.pinning import pin_find, pin_info, pin_refresh
from services.devicegw.refresh import (
    offline_answer,
    offline_queries,
    parse_refresh_request,
    rewrite_refresh_answer,
)
from services.devicegw.relay import (
    CACHE_HEADER,
    Answer,
    DeviceRequest,
    RelayPolicy,
    Rewriter,
    mark_private,
    relay_get,
)
from services.devicegw.rewrite import rewrite_find, rewrite_info
from shared.app import Resources
from shared.credentials import store_credentials
from shared.device import device_architecture
from shared.errors import BadRequest, UpstreamUnavailable
from shared.names import is_snap_name
from shared.overrides_api import OverridesClient
from shared.pushed_api import PushedClient
from shared.revisions_api import RevisionsClient
from shared.upstream import response_headers

JSON = "application/json"
CATALOGS = ("sections", "names", "categories")
# On an answer that shows a pinned revision instead of the upstream's.
OVERRIDE_HEADER = "X-Snapproxy-Override"


def compact_json(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


class DeviceGateway:
    """One per service; holds the policies built from settings."""

    def __init__(self, resources: Resources, clients: OtherClients) -> None:
        settings = resources.settings
        self.clients = clients
        self.resources = resources  # its settings follow snap-proxy config (proxy.airgap)
        self.airgap = AirgapAnswers(PushedClient(resources.peers))
        self.upstream = resources.upstream
        self.cache = resources.cache
        self.revisions = RevisionsClient(resources.peers)
        self.overrides = OverrideBook(
            OverridesClient(resources.peers), resources.cache, settings.overrides_max_age
        )

        def policy(kind: str, ttl: int, rewrite: Rewriter | None = None) -> RelayPolicy:
            return RelayPolicy(kind, ttl, settings.not_found_ttl, settings.stale_ttl, rewrite)

        self.info_policy = policy("info", settings.info_ttl, rewrite_info)
        self.find_policy = policy("find", settings.info_ttl, rewrite_find)
        self.catalog_policies = {kind: policy(kind, settings.catalog_ttl) for kind in CATALOGS}

    @property
    def in_airgap_mode(self) -> bool:
        """``proxy.airgap``: answer from imported snaps only, never the upstream."""
        return self.resources.settings.airgap

    async def _relay(self, request: DeviceRequest, policy: RelayPolicy) -> Answer:
        self.clients.seen(request)
        answer, observation = await relay_get(
            request, upstream=self.upstream, cache=self.cache, policy=policy
        )
        await self.revisions.record(observation)
        return answer

    async def _pinned(
        self, answer: Answer, apply: Callable[[dict[str, Any], Pins], bool], snap: str | None
    ) -> Answer:
        """``answer`` with the pins applied (cached answers are the upstream's: pins are
        applied on the way out, so no cached answer outlives a change to them)."""
        if answer.status != 200:
            return answer
        pins = await self.overrides.current()
        if not pins or (snap is not None and not pins.has(snap)):
            return answer
        try:
            document = json.loads(answer.body)
        except ValueError:
            return answer
        if not isinstance(document, dict) or not apply(document, pins):
            return answer
        headers = {**answer.headers, OVERRIDE_HEADER: "applied"}
        return replace(answer, headers=headers, body=compact_json(document))

    async def info(self, name: str, request: DeviceRequest) -> Answer:
        if not is_snap_name(name):
            raise not_found(name)
        if self.in_airgap_mode:
            return await self.airgap.info(name, request)
        answer = await self._relay(request, self.info_policy)
        return await self._pinned(
            answer, lambda document, pins: pin_info(document, pins, request.base_url), name
        )

    async def find(self, request: DeviceRequest) -> Answer:
        if self.in_airgap_mode:
            return await self.airgap.find(request)
        answer = await self._relay(request, self.find_policy)
        query = parse_qs(request.query)
        architecture = next(iter(query.get("architecture", [])), None)
        architecture = architecture or device_architecture(request.headers) or ""
        channel = next(iter(query.get("channel", [])), None)

        def apply(document: dict[str, Any], pins: Pins) -> bool:
            return pin_find(document, pins, architecture, channel, request.base_url)

        return await self._pinned(answer, apply, None)

    async def catalog(self, kind: str, request: DeviceRequest) -> Answer:
        if self.in_airgap_mode:
            return await self.airgap.catalog(kind, request)
        return await self._relay(request, self.catalog_policies[kind])

    async def refresh(self, body: bytes, request: DeviceRequest) -> Answer:
        """Validate ``body``, relay it byte-exact, point the answer's URLs at the proxy and
        record what it shows; from the recorded revisions when the upstream is away."""
        document = parse_refresh_request(body)
        self.clients.seen(request)
        architecture = device_architecture(request.headers)
        if not architecture:
            raise BadRequest("missing header Snap-Device-Architecture", code="missing-header")
        if self.in_airgap_mode:
            return await self.airgap.refresh(document, architecture, request)
        try:
            upstream_response = await self.upstream.request(
                "POST", "/v2/snaps/refresh", headers=request.headers, content=body
            )
        except UpstreamUnavailable:
            return await self._offline_refresh(document, architecture, request)
        headers = response_headers(upstream_response)
        media_type = upstream_response.headers.get("content-type", JSON)
        answer: Any = None
        if upstream_response.status_code == 200:
            try:
                answer = upstream_response.json()
            except ValueError:
                answer = None
        if not isinstance(answer, dict):
            return Answer(
                upstream_response.status_code, media_type, headers, upstream_response.content
            )
        observation = rewrite_refresh_answer(answer, document, request.base_url, architecture)
        if store_credentials(request.headers):
            mark_private(observation)
        await self.revisions.record(observation)  # what the upstream said, before the pins
        pins = await self.overrides.current()
        if pins and pin_refresh(answer, document, pins, architecture, request.base_url):
            headers[OVERRIDE_HEADER] = "applied"
        return Answer(200, media_type, headers, compact_json(answer))

    async def _offline_refresh(
        self, document: dict[str, Any], architecture: str, request: DeviceRequest
    ) -> Answer:
        """A refresh answer from the recorded revisions and the pins, the upstream away."""
        pairs = offline_queries(document, architecture)
        known = await self.revisions.resolve([query for _, query in pairs])
        pins = await self.overrides.current()
        try:
            offline = offline_answer(pairs, known, request.base_url)
        except UpstreamUnavailable:
            offline = {"results": [], "error-list": []}
            if not pins or not pin_refresh(offline, document, pins, architecture, request.base_url):
                raise
        else:
            pin_refresh(offline, document, pins, architecture, request.base_url)
        return Answer(200, JSON, {CACHE_HEADER: "offline"}, compact_json(offline))
