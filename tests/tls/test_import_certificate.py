"""``snap-proxy import-certificate`` as an admin uses it (caller: the admin, on the proxy's
machine): a Let's Encrypt style fullchain and key on stdin or from files, ``--selfsigned``,
and every bad input refused with one line and nothing changed."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509

from shared.tls import client_ca
from tests.support.admin_cli import Node, digest, error_lines
from tests.support.tls import NOW, PrivateCA, cert_pem


@pytest.fixture
def node(tmp_path: Path) -> Node:
    node = Node(tmp_path / "node")
    node.upgrade()
    node.ok("proxy.domain=snaps.example.com")
    return node


@pytest.fixture(scope="module")
def ca() -> PrivateCA:
    return PrivateCA.create()


def chain_of(node: Node) -> list[x509.Certificate]:
    printed = node.config("proxy.tls.cert")
    assert printed.returncode == 0, printed.stderr
    return x509.load_pem_x509_certificates(printed.stdout.encode())


def refused(node: Node, *args: str, stdin: str | None = None) -> str:
    """The one error line of a refused import, after checking nothing changed."""
    before = node.export()
    result = node.run("import-certificate", *args, stdin=stdin)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert digest(node.export()) == digest(before)
    lines = error_lines(result)
    assert len(lines) == 1, lines
    assert lines[0].endswith("; nothing was changed"), lines
    return lines[0]


def test_a_fullchain_and_its_key_on_stdin(node: Node, ca: PrivateCA) -> None:
    leaf, fullchain, key = ca.leaf("snaps.example.com")
    # The key first, then the chain: any order works, the leaf is found by its key.
    result = node.run("import-certificate", stdin=key + fullchain)
    assert result.returncode == 0, result.stderr
    assert "Imported the certificate for snaps.example.com" in result.stdout
    assert "Clients need nothing more" in result.stdout  # the chain ends below the root
    chain = chain_of(node)
    assert [cert_pem(c) for c in chain] == [leaf, cert_pem(ca.intermediate)]
    rows = node.listing("proxy.tls.key")
    assert rows["proxy.tls.key"] == ("config", "********")
    assert key not in node.ok()  # the listing hides the key


def test_files_and_a_wildcard(node: Node, ca: PrivateCA, tmp_path: Path) -> None:
    _, fullchain, key = ca.leaf("*.example.com")
    (tmp_path / "fullchain.pem").write_text(fullchain)
    (tmp_path / "privkey.pem").write_text(key)
    result = node.run(
        "import-certificate", str(tmp_path / "fullchain.pem"), str(tmp_path / "privkey.pem")
    )
    assert result.returncode == 0, result.stderr
    assert chain_of(node)[0].subject.rfc4514_string() == "CN=*.example.com"


def test_selfsigned_makes_a_ca_and_a_leaf_for_the_domain(node: Node) -> None:
    result = node.run("import-certificate", "--selfsigned")
    assert result.returncode == 0, result.stderr
    assert "Clients must trust its CA" in result.stdout
    leaf, ca_cert = chain_of(node)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["snaps.example.com"]
    leaf.verify_directly_issued_by(ca_cert)
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    printed = node.config("proxy.tls.cert").stdout
    assert client_ca(printed) == cert_pem(ca_cert)  # what clients must trust: the CA


def test_selfsigned_for_an_address_has_an_ip_san(node: Node) -> None:
    node.ok("proxy.domain=192.0.2.10")
    assert node.run("import-certificate", "--selfsigned").returncode == 0
    names = chain_of(node)[0].extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert [str(ip) for ip in names.value.get_values_for_type(x509.IPAddress)] == ["192.0.2.10"]
    assert names.value.get_values_for_type(x509.DNSName) == []


def test_a_second_import_replaces_the_first(node: Node, ca: PrivateCA) -> None:
    assert node.run("import-certificate", "--selfsigned").returncode == 0
    leaf, fullchain, key = ca.leaf("snaps.example.com")
    assert node.run("import-certificate", stdin=fullchain + key).returncode == 0
    assert cert_pem(chain_of(node)[0]) == leaf


def test_a_key_of_another_certificate_is_refused(node: Node, ca: PrivateCA) -> None:
    assert node.run("import-certificate", "--selfsigned").returncode == 0  # something stored
    _, fullchain, _ = ca.leaf("snaps.example.com")
    _, _, other_key = ca.leaf("snaps.example.com")
    line = refused(node, stdin=fullchain + other_key)
    assert "the private key does not match the certificate (CN=snaps.example.com)" in line


def test_an_expired_certificate_is_refused(node: Node, ca: PrivateCA) -> None:
    expired = NOW - datetime.timedelta(days=1)
    _, fullchain, key = ca.leaf(
        "snaps.example.com", not_before=expired - datetime.timedelta(days=90), not_after=expired
    )
    line = refused(node, stdin=fullchain + key)
    assert f"the certificate expired on {expired:%Y-%m-%d}" in line


def test_a_certificate_not_valid_yet_is_refused(node: Node, ca: PrivateCA) -> None:
    _, fullchain, key = ca.leaf("snaps.example.com", not_before=NOW + datetime.timedelta(days=2))
    assert "the certificate is not valid yet" in refused(node, stdin=fullchain + key)


def test_a_certificate_for_another_name_is_refused(node: Node, ca: PrivateCA) -> None:
    _, fullchain, key = ca.leaf("other.example.org", "10.0.0.1")
    line = refused(node, stdin=fullchain + key)
    assert (
        "the certificate is valid for other.example.org, 10.0.0.1, not proxy.domain "
        "snaps.example.com" in line
    )


def test_garbage_and_missing_parts_are_refused(node: Node, ca: PrivateCA) -> None:
    _, fullchain, key = ca.leaf("snaps.example.com")
    assert "no PEM certificate found" in refused(node, stdin="hello, world\n")
    assert "no PEM certificate found" in refused(node, stdin="")
    assert "no PEM private key found" in refused(node, stdin=fullchain)
    assert "more than one private key" in refused(node, stdin=fullchain + key + key)
    damaged = fullchain.replace(fullchain.splitlines()[3], "A" * 64, 1)
    assert "does not parse" in refused(node, stdin=damaged + key)
    encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
    assert "the private key is encrypted" in refused(node, stdin=fullchain + encrypted)
    assert "cannot read /nonexistent.pem" in refused(node, "/nonexistent.pem")


def test_without_a_domain_nothing_is_made(tmp_path: Path, ca: PrivateCA) -> None:
    node = Node(tmp_path / "bare")
    node.upgrade()
    assert "proxy.domain is not set" in refused(node, "--selfsigned")
    _, fullchain, key = ca.leaf("snaps.example.com")
    assert "proxy.domain is not set" in refused(node, stdin=fullchain + key)


def test_config_refuses_a_pair_that_does_not_match(node: Node, ca: PrivateCA) -> None:
    leaf, _, _ = ca.leaf("snaps.example.com")
    _, _, other_key = ca.leaf("snaps.example.com")
    result = node.config(f"proxy.tls.cert={leaf}", f"proxy.tls.key={other_key}")
    assert result.returncode == 2
    assert "proxy.tls.cert and proxy.tls.key: the private key does not match" in result.stderr
    result = node.config(f"proxy.tls.cert={leaf}")
    assert result.returncode == 2
    assert "proxy.tls.cert and proxy.tls.key go together" in result.stderr
    assert node.config("proxy.tls.cert").returncode == 1  # still not set
