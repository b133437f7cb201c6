"""``serve --https``: the simulator's own certificate authority and a server certificate.

An upstream behind TLS inspection presents certificates signed by a CA no public bundle
holds; so does the simulator in this mode. The CA and the leaf are made once per data
directory (``DIR/tls/``) and kept, so a restart serves the same chain:

  tls/ca.pem        the CA certificate (what a client must be told to trust)
  tls/server.pem    the leaf (for ``localhost``, ``127.0.0.1``, ``::1`` and the bind host)
  tls/server.key    its private key
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=365)
_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "snap-store-sim"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _alt_names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host and host != "localhost":
            names.append(x509.DNSName(host))
    else:
        if x509.IPAddress(address) not in names and not address.is_unspecified:
            names.append(x509.IPAddress(address))
    return names


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def make_chain(host: str) -> tuple[bytes, bytes, bytes]:
    """(CA certificate, leaf certificate, leaf key), all PEM; the leaf names ``host``."""
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("snap-store-sim test CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("snap-store-sim"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(_alt_names(host)), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _pem(ca), _pem(leaf), key_pem


def ensure_chain(tls_dir: Path, host: str) -> tuple[Path, Path, Path]:
    """The CA, leaf and key files under ``tls_dir``, made on first use; their paths."""
    ca, leaf, key = tls_dir / "ca.pem", tls_dir / "server.pem", tls_dir / "server.key"
    if not (ca.exists() and leaf.exists() and key.exists()):
        tls_dir.mkdir(parents=True, exist_ok=True)
        ca_pem, leaf_pem, key_pem = make_chain(host)
        key.touch(mode=0o600)
        key.write_bytes(key_pem)
        leaf.write_bytes(leaf_pem)
        ca.write_bytes(ca_pem)
    return ca, leaf, key
