"""HTTPS in the nginx gateway (``shared.gateway_config`` renders it when a layout has a
:class:`GatewayTls`): the suite on the HTTPS port, and on the HTTP port a server that answers
``/_status/`` (load balancers' and ``snap-proxy status``'s health checks stay on HTTP) and
redirects everything else to HTTPS.

The Snap Store Proxy's nginx redirects with a 301. A 301 turns a client's POST into a GET
(Go's client does so), which would break snapd's ``POST /v2/snaps/refresh`` on a device
still pointed at ``http://``: methods other than GET and HEAD get a 308, which clients
follow with the same method and body.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.settings import Settings
from shared.tls_files import CERT_FILE, KEY_FILE, write_pair

# Where the compose and Kubernetes gateways find the pair (a mounted directory or Secret).
CONTAINER_TLS_DIR = "/etc/nginx/tls"


@dataclass(frozen=True)
class GatewayTls:
    """Where nginx serves HTTPS, and the files of its certificate."""

    listen: str  # e.g. "443" or "127.0.0.1:8443"
    public_port: int  # the port clients use (the redirect's target)
    cert_path: str
    key_path: str


def in_directory(directory: str, listen: str, public_port: int) -> GatewayTls:
    """The pair as ``DIRECTORY/proxy.crt`` and ``DIRECTORY/proxy.key`` (``write_pair``)."""
    base = directory.rstrip("/")
    return GatewayTls(listen, public_port, f"{base}/{CERT_FILE}", f"{base}/{KEY_FILE}")


def write_gateway_pair(settings: Settings, directory: Path) -> bool:
    """Write the configured pair into ``directory`` for nginx; False when there is none."""
    if not settings.tls_enabled or settings.tls_cert is None or settings.tls_key is None:
        return False
    write_pair(directory, settings.tls_cert, settings.tls_key.get_secret_value())
    return True


def listen_lines(listen: str, tls: GatewayTls | None) -> str:
    """The main server's ``listen`` (and certificate) lines."""
    if tls is None:
        return f"        listen {listen};"
    return (
        f"        listen {tls.listen} ssl;\n"
        f"        ssl_certificate {tls.cert_path};\n"
        f"        ssl_certificate_key {tls.key_path};\n"
        "        ssl_protocols TLSv1.2 TLSv1.3;\n"
        "        ssl_session_cache shared:snapproxy_tls:10m;"
    )


def redirect_server(listen: str, tls: GatewayTls | None, status_locations: str) -> str:
    """The HTTP server that redirects to HTTPS (empty without TLS)."""
    if tls is None:
        return ""
    port = "" if tls.public_port == 443 else f":{tls.public_port}"
    target = f"https://$host{port}$request_uri"
    return f"""
    # HTTP: health checks answered here, everything else sent to HTTPS (shared/gateway_tls.py).
    server {{
        listen {listen};

        proxy_http_version 1.1;
        proxy_pass_request_headers off;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Request-Id $snapproxy_request_id;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        add_header X-Request-Id $snapproxy_request_id always;

{status_locations}

        location / {{
            if ($request_method !~ ^(GET|HEAD)$) {{ return 308 {target}; }}
            return 301 {target};
        }}
    }}
"""
