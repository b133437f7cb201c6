"""The script behind ``curl -s http://PROXY/client-setup.sh | sudo sh``."""

from __future__ import annotations

import shlex

DROPIN_DIR = "/etc/systemd/system/snapd.service.d"
DROPIN = f"{DROPIN_DIR}/snapproxy.conf"

TEMPLATE = """\
#!/bin/sh
# Point this machine's snapd at the snapproxy at {url}/
# Undo: sudo rm {dropin} && sudo systemctl daemon-reload && sudo systemctl restart snapd
set -eu
if [ "$(id -u)" -ne 0 ]; then
    echo "run this as root: curl -s {url}/client-setup.sh | sudo sh" >&2
    exit 1
fi
mkdir -p {dropin_dir}
cat > {dropin} <<'SNAPPROXY_DROPIN'
[Service]
Environment=SNAPPY_FORCE_API_URL={url}/
SNAPPROXY_DROPIN
systemctl daemon-reload
systemctl restart snapd.service
echo "snapd now uses the snapproxy at {url}/ (drop-in: {dropin})"
"""


def client_setup_script(base_url: str) -> str:
    """The setup script for a proxy reached at ``base_url``."""
    url = base_url.rstrip("/")
    if shlex.quote(url) != url:
        raise ValueError(f"unsafe proxy URL {url!r}")
    return TEMPLATE.format(url=url, dropin=DROPIN, dropin_dir=DROPIN_DIR)
