from __future__ import annotations

import pytest

from shared.routes import ROUTES, service_for_path, status_target
from shared.settings import SERVICE_NAMES


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/v2/snaps/refresh", "devicegw"),
        ("/v2/snaps/info/hello", "devicegw"),
        ("/api/v1/snaps/sections", "devicegw"),
        ("/api/v1/snaps/names", "devicegw"),
        ("/api/v1/snaps/search", "devicegw"),
        ("/api/v1/snaps/download/abc_1.snap", "downloads"),
        ("/download/abc_1.snap", "downloads"),
        ("/v2/assertions/account/canonical", "assertions"),
        ("/api/v1/snaps/assertions/account/x", "assertions"),
        ("/api/v1/snaps/auth/nonces", "auth"),
        ("/v2/auth/x", "auth"),
        ("/v1/devices", "auth"),
        ("/v1/cache/stats", "downloads"),
        ("/v1/overrides", "revisions"),
        ("/v2/metadata/x", "revisions"),
        ("/nope", None),
        ("/", None),
    ],
)
def test_longest_prefix_wins(path, service):
    assert service_for_path(path) == service


def test_every_service_has_a_route():
    assert {route.service for route in ROUTES} == set(SERVICE_NAMES)


def test_status_paths_are_rewritten_per_service():
    assert status_target("/_status/auth/check") == ("auth", "/_status/check")
    assert status_target("/_status/downloads/ping") == ("downloads", "/_status/ping")
    assert status_target("/_status/check") is None
    assert status_target("/_status/nosuch/check") is None
