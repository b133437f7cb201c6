"""``snap-proxy use-ca-certs`` and ``remove-ca-certs``: which CAs the upstream's TLS
certificates are checked against (the key ``upstream.ca-certs``)."""

from __future__ import annotations

import sys

import typer
from cryptography import x509

from shared.cli.common import fail
from shared.cli.config import set_keys

KEY = "upstream.ca-certs"
USE_HELP = (
    "Trust only the CA certificates of the PEM bundle on standard input for the upstream's "
    "TLS, as behind a TLS-inspecting corporate proxy that re-signs every certificate:\n\n"
    "snap-proxy use-ca-certs < corporate-ca.pem\n\n"
    "Stored as the key upstream.ca-certs; takes effect when the services restart. "
    "`snap-proxy check-connections` shows whether the upstream is then trusted."
)
REMOVE_HELP = (
    "Go back to the default CA store for the upstream's TLS (undoes use-ca-certs): "
    "SSL_CERT_FILE or SSL_CERT_DIR when set, else the Mozilla bundle snapproxy ships with."
)


def _subjects(text: str) -> list[str]:
    certificates = x509.load_pem_x509_certificates(text.encode())
    return [certificate.subject.rfc4514_string() for certificate in certificates]


def use_ca_certs() -> None:
    if sys.stdin.isatty():
        fail("give the PEM bundle on standard input: snap-proxy use-ca-certs < ca.pem", 2)
    text = sys.stdin.read()
    if not text.strip():
        fail("standard input is empty: give the PEM bundle (snap-proxy use-ca-certs < ca.pem)", 2)
    set_keys([(KEY, text)])
    subjects = _subjects(text)
    typer.echo(f"The upstream's TLS certificates are now checked against {len(subjects)} CA(s):")
    for subject in subjects:
        typer.echo(f"  {subject}")


def remove_ca_certs() -> None:
    set_keys([(KEY, None)])
    typer.echo("The upstream's TLS certificates are now checked against the default CA store.")


def register(app: typer.Typer) -> None:
    app.command("use-ca-certs", help=USE_HELP)(use_ca_certs)
    app.command("remove-ca-certs", help=REMOVE_HELP)(remove_ca_certs)
