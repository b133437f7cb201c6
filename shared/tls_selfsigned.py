"""A self-signed certificate for ``snap-proxy import-certificate --selfsigned``: a CA of the
proxy's own and a leaf for proxy.domain it signs (``cryptography``); clients trust the CA."""

from __future__ import annotations

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.tls import Bundle

# Self-signed: the CA lives ten years, the leaf a little over two (clients such as browsers
# refuse longer; snapd does not care, but an admin may look at it with one).
CA_DAYS = 3650
LEAF_DAYS = 825
_CA_USAGE = dict.fromkeys(
    (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
        "key_agreement", "encipher_only", "decipher_only",
    ),
    False,
) | {"key_cert_sign": True, "crl_sign": True}  # fmt: skip


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "snapproxy"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _subject_alt_name(domain: str) -> x509.SubjectAlternativeName:
    try:
        return x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(domain))])
    except ValueError:
        return x509.SubjectAlternativeName([x509.DNSName(domain)])


def self_signed(domain: str, now: datetime.datetime | None = None) -> Bundle:
    """A new CA (``snapproxy CA for DOMAIN``) and a leaf for ``domain`` it signed (an IP
    subjectAltName when ``domain`` is an address): the chain is the leaf, then the CA,
    which is what clients must trust."""
    now = now or datetime.datetime.now(datetime.UTC)
    start = now - datetime.timedelta(minutes=5)  # a client's clock a little behind
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = _name(f"snapproxy CA for {domain}")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(**_CA_USAGE),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA384())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(domain))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_subject_alt_name(domain), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA384())
    )
    return Bundle((leaf, ca), key)
