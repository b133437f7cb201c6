"""Finding 2: the admin token must never leave the suite.

``snap-proxy cache prefetch`` used to send its refresh with the admin client, and devicegw
relayed ``Authorization: Bearer <admin token>`` to the store. Only a device's own store
credentials (``Authorization: Macaroon ...``, ``Snap-Device-Authorization``) may go upstream.
The simulator records every credential header it is sent (``/_sim/stats`` ``credentials``).
"""

from __future__ import annotations

import subprocess

from tests.support.device_api import REFRESH, install, refresh_body
from tests.support.infra import proxy_env
from tests.support.proxies import ADMIN_TOKEN, SNAP_PROXY, ProxyUnderTest
from tests.support.sim import SimHandle

DEVICE_MACAROON = 'Macaroon root="device-root", discharge="device-discharge"'
DEVICE_SESSION = 'Macaroon root="device-session"'


def credentials_seen(sim: SimHandle) -> dict[str, int]:
    return dict(sim.stats()["credentials"])


def test_prefetch_never_sends_the_admin_token_upstream(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    done = subprocess.run(
        [*SNAP_PROXY, "cache", "prefetch", "hello-sim", "--url", any_proxy.url],
        env=proxy_env(SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is cached" in done.stdout
    assert sim.stats()["requests"].get(f"POST {REFRESH}", 0) >= 1  # the refresh went upstream
    leaked = [seen for seen in credentials_seen(sim) if ADMIN_TOKEN in seen]
    assert leaked == []


def test_a_bearer_token_from_a_client_is_not_relayed(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    """Whoever sends ``Authorization: Bearer``, the store never sees it: refresh, info, find
    and an auth nonce all go upstream without it."""
    with any_proxy.client(Authorization=f"Bearer {ADMIN_TOKEN}") as client:
        assert client.post(REFRESH, json=refresh_body([install("hello-sim", "i-1")])).is_success
        assert client.get("/v2/snaps/info/hello-sim").is_success
        assert client.get("/v2/snaps/find", params={"q": "hello"}).is_success
        assert client.post("/api/v1/snaps/auth/nonces").is_success
    requests = sim.stats()["requests"]
    assert requests.get(f"POST {REFRESH}", 0) >= 1
    assert requests.get("POST /api/v1/snaps/auth/nonces", 0) >= 1
    assert [seen for seen in credentials_seen(sim) if ADMIN_TOKEN in seen] == []


def test_device_store_credentials_are_still_relayed(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    with any_proxy.client(
        Authorization=DEVICE_MACAROON, **{"Snap-Device-Authorization": DEVICE_SESSION}
    ) as client:
        assert client.post(REFRESH, json=refresh_body([install("hello-sim", "i-1")])).is_success
        assert client.get("/v2/snaps/info/hello-sim").is_success
    seen = credentials_seen(sim)
    assert seen.get(f"authorization: {DEVICE_MACAROON}", 0) >= 2
    assert seen.get(f"snap-device-authorization: {DEVICE_SESSION}", 0) >= 2
