"""The device gateway's service layer: relay, rewrite, record, and survive upstream outages."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request, Response

from services.devicegw.refresh import (
    SNAP_NAME,
    offline_answer,
    offline_queries,
    parse_refresh_request,
    rewrite_refresh_answer,
)
from services.devicegw.relay import RelayPolicy, relay_get
from services.devicegw.rewrite import rewrite_find, rewrite_info
from shared.app import Resources
from shared.errors import BadRequest, NotFound, UpstreamUnavailable
from shared.http import public_base_url, read_limited_body
from shared.revisions_api import RevisionsClient
from shared.upstream import relayed_headers, response_headers


def device_architecture(request: Request) -> str | None:
    return request.headers.get("snap-device-architecture") or request.headers.get(
        "x-ubuntu-architecture"
    )


class DeviceGateway:
    """One per service; holds the policies built from settings."""

    def __init__(self, resources: Resources) -> None:
        settings = resources.settings
        self.resources = resources
        self.revisions = RevisionsClient(resources.peers)

        def policy(kind: str, ttl: int, rewrite: Any = None) -> RelayPolicy:
            return RelayPolicy(kind, ttl, settings.not_found_ttl, settings.stale_ttl, rewrite)

        self.info_policy = policy("info", settings.info_ttl, rewrite_info)
        self.find_policy = policy("find", settings.info_ttl, rewrite_find)
        self.catalog_policies = {
            kind: policy(kind, settings.catalog_ttl) for kind in ("sections", "names", "categories")
        }

    def base_url(self, request: Request) -> str:
        return public_base_url(request, self.resources.settings)

    async def _relay(self, request: Request, policy: RelayPolicy) -> Response:
        response, observation = await relay_get(
            request,
            upstream=self.resources.upstream,
            cache=self.resources.cache,
            policy=policy,
            base_url=self.base_url(request),
        )
        await self.revisions.record(observation)
        return response

    async def info(self, request: Request, name: str) -> Response:
        if not SNAP_NAME.match(name):
            raise NotFound(
                f"No snap named {name!r} found in series '16'.", code="resource-not-found"
            )
        return await self._relay(request, self.info_policy)

    async def find(self, request: Request) -> Response:
        return await self._relay(request, self.find_policy)

    async def catalog(self, request: Request, kind: str) -> Response:
        return await self._relay(request, self.catalog_policies[kind])

    async def refresh(self, request: Request) -> Response:
        body = await read_limited_body(request)
        document = parse_refresh_request(body)
        architecture = device_architecture(request)
        if not architecture:
            raise BadRequest("missing header Snap-Device-Architecture", code="missing-header")
        base_url = self.base_url(request)
        try:
            upstream_response = await self.resources.upstream.request(
                "POST",
                "/v2/snaps/refresh",
                headers=relayed_headers(request.headers.items()),
                content=body,
            )
        except UpstreamUnavailable:
            pairs = offline_queries(document, architecture)
            known = await self.revisions.resolve([query for _, query in pairs])
            offline = offline_answer(pairs, known, base_url)
            return Response(
                json.dumps(offline, separators=(",", ":")),
                media_type="application/json",
                headers={"X-Snapproxy-Cache": "offline"},
            )
        headers = response_headers(upstream_response)
        media_type = upstream_response.headers.get("content-type", "application/json")
        answer: Any = None
        if upstream_response.status_code == 200:
            try:
                answer = upstream_response.json()
            except ValueError:
                answer = None
        if not isinstance(answer, dict):
            return Response(
                upstream_response.content,
                status_code=upstream_response.status_code,
                media_type=media_type,
                headers=headers,
            )
        observation = rewrite_refresh_answer(answer, document, base_url, architecture)
        await self.revisions.record(observation)
        return Response(
            json.dumps(answer, separators=(",", ":")), media_type=media_type, headers=headers
        )
