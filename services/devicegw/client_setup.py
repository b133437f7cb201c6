"""The script behind ``curl -s http://PROXY/client-setup.sh | sudo sh`` (over HTTPS with a
self-signed certificate: ``curl -sk https://PROXY/client-setup.sh | sudo sh``).

It points snapd at the proxy (``SNAPPY_FORCE_API_URL`` in a systemd drop-in) and, when the
proxy's certificate chain ends with a CA clients cannot know (``--selfsigned``, or a private
CA's root given with the chain), installs that CA where snapd trusts it: the system CA store
(``update-ca-certificates`` on Debian and Ubuntu, ``update-ca-trust`` on Fedora and RHEL),
which snapd reads when it restarts, and snapd's own ``store-certs`` where that exists (the
way on Ubuntu Core, whose system store is read-only).

``SNAPPROXY_CLIENT_ROOT=DIR`` makes it write under DIR instead of ``/`` and run nothing
outside it (no ``snap set``, no ``systemctl``): a dry run, and how the tests run it.
"""

from __future__ import annotations

import re

from shared.errors import BadRequest

DROPIN_DIR = "/etc/systemd/system/snapd.service.d"
DROPIN = f"{DROPIN_DIR}/snapproxy.conf"
CA_NAME = "snapproxy"
DEBIAN_CA = f"/usr/local/share/ca-certificates/{CA_NAME}.crt"
REDHAT_ANCHORS = "/etc/pki/ca-trust/source/anchors"
# Where Go (snapd) reads the system store on Debian and Ubuntu: the tests' SSL_CERT_FILE.
DEBIAN_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

HEAD = """\
#!/bin/sh
# Point this machine's snapd at the snapproxy at {url}/
# Undo: sudo rm {dropin} && sudo systemctl daemon-reload && sudo systemctl restart snapd
# SNAPPROXY_CLIENT_ROOT=DIR: write under DIR instead of /, run nothing (a dry run).
set -eu
ROOT="${{SNAPPROXY_CLIENT_ROOT:-}}"
if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
    echo "run this as root: curl -s{k} {url}/client-setup.sh | sudo sh" >&2
    exit 1
fi
"""

CA = """\
# The CA of the proxy's certificate (SHA-256 {fingerprint}).
CA_PEM=$(cat <<'SNAPPROXY_CA'
{ca}SNAPPROXY_CA
)
if [ -n "$ROOT" ] || command -v update-ca-certificates >/dev/null 2>&1; then
    mkdir -p "$ROOT{debian_dir}"
    printf '%s\\n' "$CA_PEM" > "$ROOT{debian_ca}"
    if [ -z "$ROOT" ]; then
        update-ca-certificates
    else
        mkdir -p "$ROOT/etc/ssl/certs" "$ROOT/usr/share/ca-certificates"
        touch "$ROOT/etc/ca-certificates.conf"
        update-ca-certificates --certsconf "$ROOT/etc/ca-certificates.conf" \\
            --certsdir "$ROOT/usr/share/ca-certificates" \\
            --localcertsdir "$ROOT/usr/local/share/ca-certificates" \\
            --etccertsdir "$ROOT/etc/ssl/certs" --hooksdir "$ROOT/etc/ca-certificates/update.d"
    fi
    echo "installed the proxy's CA in the system store ({debian_ca})"
elif command -v update-ca-trust >/dev/null 2>&1; then
    printf '%s\\n' "$CA_PEM" > {redhat_dir}/{name}.crt
    update-ca-trust extract
    echo "installed the proxy's CA in the system store ({redhat_dir}/{name}.crt)"
fi
if [ -z "$ROOT" ] && snap set system store-certs.{name}="$CA_PEM" 2>/dev/null; then
    echo "snapd trusts the proxy's CA (snap set system store-certs.{name})"
fi
"""

TAIL = """\
mkdir -p "$ROOT{dropin_dir}"
cat > "$ROOT{dropin}" <<'SNAPPROXY_DROPIN'
[Service]
Environment=SNAPPY_FORCE_API_URL={url}/
SNAPPROXY_DROPIN
if [ -z "$ROOT" ]; then
    systemctl daemon-reload
    systemctl restart snapd.service
fi
echo "snapd now uses the snapproxy at {url}/ (drop-in: $ROOT{dropin})"
"""

# What the script may say the proxy's URL is: http(s), a host name or an IPv4 or bracketed
# IPv6 address, a port, a plain path. Nothing in it means anything to sh inside double
# quotes or a quoted here-document, nor to systemd in an Environment= line.
_SAFE_URL = re.compile(
    r"https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~/-]*)?"
)
# A PEM certificate: nothing in it can end the quoted here-document early.
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n")


def client_setup_script(base_url: str, ca_pem: str | None = None, fingerprint: str = "") -> str:
    """The setup script for a proxy reached at ``base_url`` whose clients must trust
    ``ca_pem`` (None: a CA they trust already); BadRequest for a URL that cannot go into a
    shell script as it is."""
    url = base_url.rstrip("/")
    if not _SAFE_URL.fullmatch(url):
        raise BadRequest(f"cannot write a setup script for the proxy URL {url!r}")
    insecure = "k" if ca_pem and url.startswith("https://") else ""
    script = HEAD.format(url=url, dropin=DROPIN, k=insecure)
    if ca_pem is not None:
        ca = ca_pem.strip() + "\n"
        if not _PEM.fullmatch(ca):
            raise ValueError("the CA is not one PEM certificate")
        script += CA.format(
            ca=ca,
            fingerprint=fingerprint,
            name=CA_NAME,
            debian_dir=DEBIAN_CA.rsplit("/", 1)[0],
            debian_ca=DEBIAN_CA,
            redhat_dir=REDHAT_ANCHORS,
        )
    return script + TAIL.format(url=url, dropin=DROPIN, dropin_dir=DROPIN_DIR)
