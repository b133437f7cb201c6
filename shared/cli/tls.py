"""``snap-proxy import-certificate``: the certificate clients see (HTTPS)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from shared.cli.common import fail
from shared.cli.config import read_layers, resolved_or_exit, store_changes
from shared.config.changes import ConfigRefused, parse_changes
from shared.tls import (
    Bundle,
    CertificateRefused,
    check_bundle,
    client_ca,
    fingerprint,
    parse_bundle,
)
from shared.tls_selfsigned import self_signed

HELP = (
    "Serve HTTPS with a certificate: its chain and its private key, on standard input or as "
    "files, in any order (a Let's Encrypt fullchain.pem and privkey.pem work as they are):\n\n"
    "cat fullchain.pem privkey.pem | snap-proxy import-certificate\n\n"
    "snap-proxy import-certificate fullchain.pem privkey.pem\n\n"
    "snap-proxy import-certificate --selfsigned   a new CA and a certificate for "
    "proxy.domain\n\n"
    "The key must match the certificate, every certificate must be in date, and the "
    "certificate must name proxy.domain; otherwise nothing changes. The chain is stored as "
    "proxy.tls.cert (`snap-proxy config proxy.tls.cert` prints it) and the key as "
    "proxy.tls.key. The proxy then serves HTTPS on proxy.port.https and redirects HTTP "
    "there. Re-run it to renew: `snap-proxy run-split` reloads nginx, and `snap-proxy serve` "
    "its certificate, without stopping. docs/tls.md has the details."
)


def _read_input(files: list[Path]) -> str:
    if not files or files == [Path("-")]:
        if sys.stdin.isatty():
            fail(
                "give the certificate and its key on standard input "
                "(cat fullchain.pem privkey.pem | snap-proxy import-certificate), as files, "
                "or use --selfsigned",
                2,
            )
        data = sys.stdin.buffer.read()
        where = "standard input"
    else:
        parts = []
        for path in files:
            try:
                parts.append(path.read_bytes())
            except OSError as exc:
                fail(f"cannot read {path}: {exc.strerror or exc}; nothing was changed", 2)
        data = b"\n".join(parts)
        where = ", ".join(map(str, files))
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        fail(f"{where} is not PEM text (binary data? convert DER with openssl first)", 2)


def import_certificate(
    files: list[Path] = typer.Argument(
        None,
        metavar="[FILE]...",
        help="PEM files with the certificate, its intermediates and its key (default: "
        "standard input).",
    ),
    selfsigned: bool = typer.Option(
        False, "--selfsigned", help="Make a CA and a certificate for proxy.domain instead."
    ),
) -> None:
    layers = read_layers(changing=True)
    settings = resolved_or_exit(layers).settings
    domain = settings.domain
    if selfsigned:
        if files:
            fail("--selfsigned makes its own certificate: give no files", 2)
        if not domain:
            fail(
                "proxy.domain is not set: set it first (snap-proxy config proxy.domain=NAME), "
                "the certificate is made for it; nothing was changed",
                2,
            )
        bundle = self_signed(domain)
    else:
        text = _read_input(files or [])
        try:
            bundle = parse_bundle(text)
            check_bundle(bundle, domain)
        except CertificateRefused as exc:
            fail(f"{exc}; nothing was changed", 2)
    try:
        changes = parse_changes(
            [("proxy.tls.cert", bundle.chain_pem), ("proxy.tls.key", bundle.key_pem)]
        )
    except ConfigRefused as exc:  # our own PEM text: cannot happen unless a bug
        fail(f"{'; '.join(exc.lines)}; nothing was changed")
    store_changes(changes, replace=False, interactive=False)
    _tell(bundle, settings.port_https, domain or "")


def _tell(bundle: Bundle, port: int, domain: str) -> None:
    leaf = bundle.leaf
    until = leaf.not_valid_after_utc
    url = f"https://{domain}" + ("" if port == 443 else f":{port}")
    typer.echo(
        f"Imported the certificate for {domain} (valid until {until:%Y-%m-%d} UTC, "
        f"{len(bundle.chain)} certificate(s) in the chain, stored as proxy.tls.cert)."
    )
    typer.echo(f"The proxy serves {url}/ and redirects HTTP there.")
    ca = client_ca(bundle.chain_pem)
    if ca is None:
        typer.echo("Clients need nothing more if they trust the issuing CA (a public one does).")
        return
    typer.echo(
        f"Clients must trust its CA (SHA-256 fingerprint {fingerprint(ca)}): on each client,\n"
        f"  curl -sk {url}/client-setup.sh | sudo sh\n"
        "or hand them `snap-proxy config proxy.tls.cert` (its last certificate is the CA) and\n"
        '  sudo snap set system store-certs.snapproxy="$(cat proxy.crt)"'
    )


def register(app: typer.Typer) -> None:
    app.command("import-certificate", help=HELP)(import_certificate)
