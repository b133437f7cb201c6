"""The guide's device set-up with the real snapd: ``curl -sk https://DOMAIN/v2/auth/store/
assertions`` from a registered proxy serving HTTPS, then ``snap ack`` of what it gave, through
``/usr/lib/snapd/snapd``.

The bundle is signed by the upstream's root (here the simulator's), not by Canonical's root
compiled into snapd, so snapd must parse it and stop at the trust check, naming the key it
does not know; a bundle that is not an assertion must stop at snapd's parser instead."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shared.assertions import Assertion, parse_assertion, parse_stream
from tests.support.https_proxy import https_embedded
from tests.support.proxies import DEVICE_HEADERS
from tests.support.sim import SimHandle
from tests.support.snapclient import SNAPD_BIN, require_binary, snapd_daemon

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(600)]

ACCOUNT, PASSWORD, OTP = "registrar@example.com", "sim-password", "123456"


def curl(url: str, out: Path) -> None:
    """The guide's ``curl -sk``: the proxy's self-signed certificate is not checked."""
    agent = DEVICE_HEADERS.get("User-Agent", "curl")
    subprocess.run(
        ["curl", "-sk", "-A", agent, "-o", str(out), "--fail", url], check=True, timeout=60
    )


def test_snap_ack_of_the_store_bundle_stops_at_the_trust_check(
    plain_sim: SimHandle, tmp_path: Path
) -> None:
    require_binary(SNAPD_BIN)
    with https_embedded(tmp_path / "proxy", plain_sim.proxy_env()) as served:
        flags = ("--account", ACCOUNT, "--password-stdin", "--otp", OTP, "--use-case", "ack")
        done = served.node.run(
            "register",
            "--https",
            *flags,
            stdin=f"{PASSWORD}\n",
            spawn=True,
            **plain_sim.proxy_env(),
        )
        assert done.returncode == 0, done.stderr
        bundle = tmp_path / "store.assertions"
        curl(f"{served.https_url}/v2/auth/store/assertions", bundle)
    store, account_key, operator = parse_stream(bundle.read_bytes())
    assert [store.type, account_key.type, operator.type] == ["store", "account-key", "account"]
    garbage = tmp_path / "garbage"
    garbage.write_text("this is not an assertion\n")

    key_id = account_key.header("public-key-sha3-384")
    with snapd_daemon(plain_sim.api_url, log_path=tmp_path / "snapd.log") as snapd:
        acked = snapd.run("ack", str(bundle))
        refused = snapd.run("ack", str(garbage))
        known = [
            snapd.run("known", "store", f"store={store.header('store')}"),
            snapd.run("known", "account", f"account-id={operator.header('account-id')}"),
            snapd.run("known", "account-key", f"public-key-sha3-384={key_id}"),
        ]
    # snapd parsed the bundle and took its prerequisites from it (the operator's account,
    # the store key's account-key), then found the key that signed those, the simulator's
    # root, neither in the bundle nor among the roots it trusts: the trust check.
    root_key = parse_assertion(plain_sim.root_key_path().read_bytes())
    root_id = root_key.header("public-key-sha3-384")
    assert verify_signer(account_key) == verify_signer(operator) == root_id
    assert acked.returncode == 1, acked.stdout
    assert acked.stderr.strip() == (
        "error: cannot assert: assert failed: cannot resolve prerequisite assertion: "
        f"account-key ({root_id})"
    ), acked.stderr
    # Not an assertion: snapd's parser refuses it before anything is checked.
    assert refused.returncode == 1, refused.stdout
    assert refused.stderr.strip() == (
        "error: cannot assert: cannot decode request body into assertions: unexpected EOF"
    ), refused.stderr
    # Nothing of the bundle was added.
    for found in known:
        assert found.returncode == 0 and found.stdout.strip() == "", found.stdout


def verify_signer(assertion: Assertion) -> str:
    """The key that signed ``assertion``."""
    return str(assertion.header("sign-key-sha3-384"))
