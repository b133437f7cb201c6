"""``snap-proxy register`` and ``reregister``: a Store ID, an identity key pair and a store
assertion from the upstream (a parent snapproxy, or the store simulator)."""

from __future__ import annotations

import asyncio
import sys

import typer
from rich.console import Console

from shared.cli.common import configured_or_exit, fail
from shared.cli.config import set_keys
from shared.outbound import Outbound
from shared.registration.client import (
    Identity,
    Registered,
    RegistrationFailed,
    TwoFactorRequired,
    is_canonical,
    new_identity,
    register,
)
from shared.registration.protocol import RegistrationRequest
from shared.settings import Settings
from shared.upstream import upstream_label

NOT_CANONICAL = (
    "snapproxy cannot register with Canonical's Snap Store: its registration API is not "
    "public. snapproxy works unregistered (devices use SNAPPY_FORCE_API_URL, as "
    "client-setup.sh sets it); registering is for a chain of snapproxies: set proxy.upstream "
    "to a parent snapproxy first"
)
ACCOUNT_OPTION = typer.Option(None, "--account", help="The upstream account (email).")
PASSWORD_OPTION = typer.Option(
    False, "--password-stdin", help="Read the account's password from standard input."
)
OTP_OPTION = typer.Option(None, "--otp", help="The account's one-time code, if it has two.")
USE_CASE_OPTION = typer.Option(None, "--use-case", help="One line: what the proxy is for.")
HTTPS_OPTION = typer.Option(
    False, "--https", help="The store assertion points devices at https://proxy.domain."
)


def assertion_url(settings: Settings, https: bool) -> str:
    """Where the store assertion sends devices: proxy.domain, the port if not the default."""
    if not settings.domain:
        fail(
            "proxy.domain is not set; it goes into the store assertion, so set it first: "
            "snap-proxy config proxy.domain=proxy.example.com",
            2,
        )
    host = f"[{settings.domain}]" if ":" in settings.domain else settings.domain
    scheme, port, default = (
        ("https", settings.port_https, 443) if https else ("http", settings.port, 80)
    )
    return f"{scheme}://{host}" + ("" if port == default else f":{port}")


def _credentials(settings: Settings, account: str | None, password_stdin: bool) -> tuple[str, str]:
    if account is None or not password_stdin:
        typer.echo(
            "Please enter the upstream account you wish to use to register this proxy with "
            f"{upstream_label(settings.upstream_url)}."
        )
    account = account or typer.prompt("Email")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            fail("--password-stdin: standard input holds no password", 2)
    else:
        password = typer.prompt("Password", hide_input=True)
    return account, password


def _ask(settings: Settings, request: RegistrationRequest, otp: str | None) -> Registered:
    outbound = Outbound.from_settings(settings)
    try:
        return asyncio.run(register(settings.upstream_url, outbound, request))
    except TwoFactorRequired:
        if otp is not None:
            fail("the upstream asks for a one-time code and refused the one given")
        code = typer.prompt("Second-factor auth")
        retry = RegistrationRequest(**{**request.__dict__, "otp": code})
        try:
            return asyncio.run(register(settings.upstream_url, outbound, retry))
        except RegistrationFailed as exc:
            fail(f"{exc}; nothing was changed")
    except RegistrationFailed as exc:
        fail(f"{exc}; nothing was changed")


def _run(
    *,
    identity: Identity,
    store_id: str | None,
    https: bool,
    account: str | None,
    password_stdin: bool,
    otp: str | None,
    use_case: str | None,
) -> None:
    settings = configured_or_exit()
    if is_canonical(settings.upstream_url):
        fail(NOT_CANONICAL)
    url = assertion_url(settings, https)
    account, password = _credentials(settings, account, password_stdin)
    use_case = use_case or typer.prompt("Please describe your use case for this proxy")
    request = RegistrationRequest(
        account=account,
        password=password,
        otp=otp,
        domain=str(settings.domain),
        url=url,
        use_case=use_case,
        public_key=identity.public_openssh,
        store_id=store_id,
    )
    registered = _ask(settings, request, otp)
    set_keys(
        [
            ("proxy.key.private", identity.private_pem),
            ("proxy.key.public", identity.public_openssh),
            ("internal.store.id", registered.store_id),
            ("internal.store.url", url),
            ("internal.store.assertions", registered.assertions),
        ]
    )
    typer.echo(f"Thank you, your proxy is registered with {upstream_label(settings.upstream_url)}.")
    typer.echo(f"Store ID: {registered.store_id}")
    typer.echo(f"Status: {registered.status}")
    typer.echo("To point a device at it (each device, again after a reregister):")
    typer.echo(f"  curl -sL {url}/v2/auth/store/assertions | sudo snap ack /dev/stdin")
    typer.echo(f"  sudo snap set core proxy.store={registered.store_id}")


def register_command(
    https: bool = HTTPS_OPTION,
    account: str = ACCOUNT_OPTION,
    password_stdin: bool = PASSWORD_OPTION,
    otp: str = OTP_OPTION,
    use_case: str = USE_CASE_OPTION,
) -> None:
    """Register this proxy with its upstream (proxy.upstream: a parent snapproxy or the
    store simulator): a new identity key pair (proxy.key.*), a Store ID, and a store
    assertion for proxy.domain that devices `snap ack`. Prompts for what the flags do not
    give. docs/registration.md tells the whole story."""
    settings = configured_or_exit()
    if settings.store_id:
        fail(
            f"this proxy is registered already (Store ID {settings.store_id}); after a "
            "change of proxy.domain, run `snap-proxy reregister`",
            2,
        )
    if is_canonical(settings.upstream_url):
        fail(NOT_CANONICAL)
    if settings.key_private and settings.key_public:  # made by generate-keys: kept
        identity = Identity(settings.key_private.get_secret_value(), settings.key_public)
    else:
        with Console(stderr=True).status("Making the proxy's identity key (RSA 4096)..."):
            identity = new_identity()
    _run(
        identity=identity,
        store_id=None,
        https=https,
        account=account,
        password_stdin=password_stdin,
        otp=otp,
        use_case=use_case,
    )


def reregister_command(
    https: bool = HTTPS_OPTION,
    account: str = ACCOUNT_OPTION,
    password_stdin: bool = PASSWORD_OPTION,
    otp: str = OTP_OPTION,
    use_case: str = USE_CASE_OPTION,
) -> None:
    """Register again after proxy.domain (or the ports) changed: the same Store ID and key,
    a new store assertion for the new address. Every device must `snap ack` it again."""
    settings = configured_or_exit()
    if not (settings.store_id and settings.key_private and settings.key_public):
        fail("this proxy is not registered: run `snap-proxy register` first", 2)
    identity = Identity(settings.key_private.get_secret_value(), settings.key_public)
    _run(
        identity=identity,
        store_id=settings.store_id,
        https=https,
        account=account,
        password_stdin=password_stdin,
        otp=otp,
        use_case=use_case,
    )


def register_commands(app: typer.Typer) -> None:
    app.command("register")(register_command)
    app.command("reregister")(reregister_command)
