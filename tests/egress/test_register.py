"""snap-proxy register and reregister against the store simulator's registration API, and
the store assertion the proxy then serves to devices (GET /v2/auth/store/assertions)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.assertions import parse_stream, verify_chain
from shared.assertions.codec import parse_assertion
from tests.support.proxies import DEVICE_HEADERS, EmbeddedProxy
from tests.support.proxy_cli import snap_proxy, snap_proxy_here
from tests.support.sim import SimHandle

# The timeout: registration scenarios run snap-proxy a dozen times (an interpreter each).
pytestmark = pytest.mark.timeout(900)

ACCOUNT, PASSWORD, OTP = "registrar@example.com", "sim-password", "123456"
STORE_ASSERTIONS = "/v2/auth/store/assertions"


def served(proxy: EmbeddedProxy) -> httpx.Response:
    with httpx.Client(base_url=proxy.url, headers=DEVICE_HEADERS, timeout=30) as device:
        return device.get(STORE_ASSERTIONS)


def wait_served(proxy: EmbeddedProxy, expected: bytes, timeout: float = 60) -> httpx.Response:
    """internal.store.assertions is live: running services serve it within the poll."""
    deadline = time.monotonic() + timeout
    while True:
        answer = served(proxy)
        if answer.status_code == 200 and answer.content == expected:
            return answer
        if time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def registration(sim: SimHandle, store_id: str) -> dict[str, str]:
    found: dict[str, dict[str, str]] = sim.client.get("/_sim/registrations").json()["registrations"]
    return found[store_id]


def config_value(proxy: EmbeddedProxy, key: str) -> str:
    ran = snap_proxy(proxy, "config", key)
    assert ran.returncode == 0, ran.output
    return ran.stdout.splitlines()[1].split(None, 2)[2]


@pytest.fixture
def proxy(plain_sim: SimHandle, tmp_path: Path) -> Iterator[EmbeddedProxy]:
    started = EmbeddedProxy(tmp_path / "proxy", **plain_sim.proxy_env())
    started.start()
    yield started
    started.stop()


def test_register_then_reregister_after_a_domain_change(
    proxy: EmbeddedProxy, plain_sim: SimHandle
) -> None:
    # Not registered: devices get a 404 that says why.
    answer = served(proxy)
    assert answer.status_code == 404
    (error,) = answer.json()["error-list"]
    assert error["code"] == "not-registered" and "snap-proxy register" in error["message"]
    flags = ["--account", ACCOUNT, "--password-stdin", "--use-case", "a branch office"]
    no_domain = snap_proxy(proxy, "register", *flags, stdin=f"{PASSWORD}\n")
    assert no_domain.returncode == 2 and "proxy.domain is not set" in no_domain.stderr
    assert snap_proxy(proxy, "config", "proxy.domain=proxy.example.test").returncode == 0

    # Bad input changes nothing.
    wrong = snap_proxy(proxy, "register", *flags, "--otp", OTP, stdin="wrong\n")
    assert wrong.returncode == 1, wrong.output
    assert "Provided email/password is not correct. (invalid-credentials)" in wrong.stderr
    assert "nothing was changed" in wrong.stderr
    bad_otp = snap_proxy(proxy, "register", *flags, "--otp", "000000", stdin=f"{PASSWORD}\n")
    assert bad_otp.returncode == 1, bad_otp.output
    assert "2-factor key is not recognised. (twofactor-failure)" in bad_otp.stderr
    assert config_value(proxy, "internal.store.id") == "(not registered)"
    assert config_value(proxy, "proxy.key.public") == "(not set)"

    # Registered: the OTP asked for when the upstream wants it.
    done = snap_proxy(proxy, "register", *flags, stdin=f"{PASSWORD}\n{OTP}\n")
    assert done.returncode == 0, done.output
    assert "Second-factor auth" in done.stdout
    store_id = done.stdout.split("Store ID: ", 1)[1].split()[0]
    assert "Status: approved" in done.stdout
    assert config_value(proxy, "internal.store.id") == store_id
    url = f"http://proxy.example.test:{proxy.port}"
    assert config_value(proxy, "internal.store.url") == url
    public_key = config_value(proxy, "proxy.key.public")
    assert public_key.startswith("ssh-rsa ")
    assert config_value(proxy, "proxy.key.private") == "********"
    upstream_side = registration(plain_sim, store_id)
    assert upstream_side["public-key"] == public_key
    assert upstream_side["domain"] == "proxy.example.test" and upstream_side["url"] == url

    # Served byte-exact, signed by the simulator's store key (its account-key in the bundle,
    # that key's own account-key from the simulator's root).
    issued = upstream_side["assertions"].encode()
    answer = wait_served(proxy, issued)
    assert answer.status_code == 200 and answer.content == issued
    assert answer.headers["content-type"] == "application/x.ubuntu.assertion"
    store, account_key, operator = parse_stream(answer.content)
    assert store.type == "store" and store.header("store") == store_id
    assert store.header("url") == url
    verify_chain(store, [account_key])
    root_key = parse_assertion(plain_sim.root_key_path().read_bytes())
    verify_chain(account_key, [root_key])
    # The store assertion's prerequisite, for snap ack: its operator's account.
    assert operator.type == "account" and operator.header("account-id") == store.header(
        "operator-id"
    )
    verify_chain(operator, [root_key])

    status = snap_proxy(proxy, "status", "--url", proxy.url)
    assert f"Store ID: {store_id}" in status.stdout and "Status: approved" in status.stdout
    again = snap_proxy(proxy, "register", *flags, stdin=f"{PASSWORD}\n{OTP}\n")
    assert again.returncode == 2 and "reregister" in again.stderr

    # The domain changes: the same Store ID and key, a new assertion for the new address.
    assert snap_proxy(proxy, "config", "proxy.domain=new.example.test").returncode == 0
    redone = snap_proxy(proxy, "reregister", *flags, "--otp", OTP, stdin=f"{PASSWORD}\n")
    assert redone.returncode == 0, redone.output
    assert f"Store ID: {store_id}" in redone.stdout
    assert config_value(proxy, "proxy.key.public") == public_key
    new_url = f"http://new.example.test:{proxy.port}"
    upstream_side = registration(plain_sim, store_id)
    assert upstream_side["url"] == new_url
    reissued = upstream_side["assertions"].encode()
    assert reissued != issued
    answer = wait_served(proxy, reissued)
    assert answer.content == reissued
    assert parse_stream(answer.content)[0].header("url") == new_url


def test_register_asks_the_guides_questions(plain_sim: SimHandle, tmp_path: Path) -> None:
    """No flags: every answer prompted for (run in this process, as a terminal would)."""
    env = {**plain_sim.proxy_env(), "SNAPPROXY_DOMAIN": "10.0.0.7", "SNAPPROXY_PORT": "80"}
    data_dir = tmp_path / "node"
    assert snap_proxy_here(data_dir, env, "db", "upgrade").returncode == 0
    answers = f"{ACCOUNT}\n{PASSWORD}\nan office\n{OTP}\n"
    ran = snap_proxy_here(data_dir, env, "register", "--https", stdin=answers)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    for prompt in (
        "Please enter the upstream account you wish to use to register this proxy",
        "Email:",
        "Password:",
        "Please describe your use case for this proxy:",
        "Second-factor auth:",
        "Store ID: ",
        "snap ack /dev/stdin",
    ):
        assert prompt in ran.stdout
    store_id = ran.stdout.split("Store ID: ", 1)[1].split()[0]
    assert registration(plain_sim, store_id)["url"] == "https://10.0.0.7"
    assert registration(plain_sim, store_id)["use-case"] == "an office"


def test_register_with_canonicals_store_is_refused(tmp_path: Path) -> None:
    env, data_dir = {"SNAPPROXY_DOMAIN": "proxy.example.test"}, tmp_path / "node"
    assert snap_proxy_here(data_dir, env, "db", "upgrade").returncode == 0
    flags = ("--account", ACCOUNT, "--password-stdin")
    ran = snap_proxy_here(data_dir, env, "register", *flags, stdin="x\n")
    assert ran.returncode == 1
    assert "cannot register with Canonical's Snap Store: its registration API is not public" in (
        ran.stderr
    )
    shown = snap_proxy_here(data_dir, env, "config", "internal.store.id")
    assert "(not registered)" in shown.stdout
