"""The proxy's TLS certificate: reading what an admin imports, checking it, making a
self-signed one (``snap-proxy import-certificate``), and what clients must trust.

A certificate bundle is PEM text with the leaf certificate, its intermediates (a Let's
Encrypt ``fullchain.pem`` has both) and the private key, in any order, in one text or
several. It is stored as ``proxy.tls.cert`` (the chain, leaf first) and ``proxy.tls.key``.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

_CERTIFICATE = re.compile(
    r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----\r?\n.*?-----END \1-----", re.DOTALL
)


class CertificateRefused(ValueError):
    """The certificate or key cannot be used; the message is one line for the admin."""


@dataclass(frozen=True)
class Bundle:
    """A leaf certificate, the certificates that follow it, and its private key."""

    chain: tuple[x509.Certificate, ...]  # the leaf first
    key: CertificateIssuerPrivateKeyTypes

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def chain_pem(self) -> str:
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in self.chain)

    @property
    def key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()


def _public_der(key: object) -> bytes:
    public = key.public_key()  # type: ignore[attr-defined]
    der: bytes = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def describe(certificate: x509.Certificate) -> str:
    """``CN=snaps.example.com`` (or the whole subject when it has no common name)."""
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return f"CN={names[0].value!s}" if names else certificate.subject.rfc4514_string() or "(none)"


def parse_bundle(text: str) -> Bundle:
    """The certificates and the key found in ``text``; CertificateRefused when there is no
    certificate, not exactly one key, or the key belongs to none of the certificates."""
    blocks = _CERTIFICATE.findall(text)
    if not blocks:
        raise CertificateRefused(
            "no PEM certificate found (-----BEGIN CERTIFICATE-----): give the certificate, "
            "its intermediates and its private key, e.g. cat fullchain.pem privkey.pem"
        )
    try:
        certificates = [x509.load_pem_x509_certificate(block.encode()) for block in blocks]
    except ValueError:
        raise CertificateRefused("a PEM certificate block does not parse (damaged?)") from None
    keys = list(_PRIVATE_KEY.finditer(text))
    if not keys:
        raise CertificateRefused(
            "no PEM private key found (-----BEGIN PRIVATE KEY-----): give the key too "
            "(--key FILE, or with the certificate on standard input)"
        )
    if len(keys) > 1:
        raise CertificateRefused("more than one private key given: give only the certificate's")
    if keys[0].group(1) == "ENCRYPTED PRIVATE KEY":
        raise CertificateRefused(
            "the private key is encrypted: decrypt it first "
            "(openssl pkey -in KEY -out KEY.plain), the proxy must read it unattended"
        )
    try:
        key = serialization.load_pem_private_key(keys[0].group(0).encode(), password=None)
    except (ValueError, TypeError):
        raise CertificateRefused("the private key does not parse (damaged or encrypted?)") from None
    if not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise CertificateRefused("the private key is of a kind TLS servers cannot use here")
    mine = _public_der(key)
    leaves = [c for c in certificates if _public_der(c) == mine]
    if not leaves:
        raise CertificateRefused(
            f"the private key does not match the certificate ({describe(certificates[0])}): "
            "give the key the certificate was issued for"
        )
    leaf = leaves[0]
    rest = tuple(c for c in certificates if c is not leaf)
    return Bundle((leaf, *rest), key)


def dns_names(certificate: x509.Certificate) -> list[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [str(name) for name in san.value.get_values_for_type(x509.DNSName)]


def ip_addresses(certificate: x509.Certificate) -> list[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [str(ip) for ip in san.value.get_values_for_type(x509.IPAddress)]


def _name_matches(pattern: str, host: str) -> bool:
    """RFC 6125: a wildcard stands for exactly one whole left-most label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        first, _, rest = host.partition(".")
        return bool(first) and rest == pattern[2:]
    return pattern == host


def covers(certificate: x509.Certificate, domain: str) -> bool:
    """The certificate's subjectAltName names ``domain`` (as clients check it: the common
    name does not count)."""
    try:
        address = ipaddress.ip_address(domain)
    except ValueError:
        return any(_name_matches(name, domain) for name in dns_names(certificate))
    return any(ipaddress.ip_address(ip) == address for ip in ip_addresses(certificate))


def names_of(certificate: x509.Certificate) -> str:
    names = dns_names(certificate) + ip_addresses(certificate)
    return ", ".join(names) if names else "no name (it has no subjectAltName)"


def check_bundle(bundle: Bundle, domain: str | None, now: datetime.datetime | None = None) -> None:
    """CertificateRefused unless every certificate is in date and the leaf covers
    ``domain`` (proxy.domain)."""
    now = now or datetime.datetime.now(datetime.UTC)
    for index, certificate in enumerate(bundle.chain):
        which = "the certificate" if index == 0 else f"the chain's {describe(certificate)}"
        start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
        if now < start:
            raise CertificateRefused(
                f"{which} is not valid yet: it starts {start:%Y-%m-%d %H:%M} UTC "
                "(check this machine's clock)"
            )
        if now >= end:
            raise CertificateRefused(
                f"{which} expired on {end:%Y-%m-%d %H:%M} UTC: renew it and import the new one"
            )
    if not domain:
        raise CertificateRefused(
            "proxy.domain is not set: set it first (snap-proxy config proxy.domain=NAME), "
            "the certificate must be for the name clients use"
        )
    if not covers(bundle.leaf, domain):
        raise CertificateRefused(
            f"the certificate is valid for {names_of(bundle.leaf)}, not proxy.domain "
            f"{domain}: get one for {domain}, or set proxy.domain to a name it covers"
        )


def check_stored_pair(cert_pem: str, key_pem: str) -> None:
    """CertificateRefused unless ``key_pem`` is the key of ``cert_pem``'s first
    certificate (what ``snap-proxy config proxy.tls.cert=... proxy.tls.key=...`` stores)."""
    bundle = parse_bundle(cert_pem + "\n" + key_pem)
    first = x509.load_pem_x509_certificate(_CERTIFICATE.findall(cert_pem)[0].encode())
    if bundle.leaf != first:
        raise CertificateRefused("the chain must start with the certificate of the key")


def client_ca(chain_pem: str) -> str | None:
    """The certificate clients must add to their trust store: the chain's last certificate
    when it is self-signed (the self-signed CA, or a private CA's root given with the
    chain); None when the chain ends below a root clients already trust (a public CA)."""
    blocks = _CERTIFICATE.findall(chain_pem)
    if not blocks:
        return None
    last = x509.load_pem_x509_certificate(blocks[-1].encode())
    if last.subject != last.issuer:
        return None
    try:
        last.verify_directly_issued_by(last)
    except (ValueError, TypeError, InvalidSignature):
        return None
    return last.public_bytes(serialization.Encoding.PEM).decode()


def fingerprint(pem: str) -> str:
    """SHA-256 fingerprint of the first certificate, as ``openssl x509 -fingerprint``."""
    certificate = x509.load_pem_x509_certificate(_CERTIFICATE.findall(pem)[0].encode())
    digest = certificate.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
