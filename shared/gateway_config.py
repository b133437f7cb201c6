"""Render the nginx gateway config from the route table (``shared.routes``).

``deploy/nginx/nginx.conf`` (compose) and the split topology's config both come from here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shared.routes import ROUTES
from shared.settings import SERVICE_NAMES

MAX_BODY = "1m"


@dataclass(frozen=True)
class GatewayLayout:
    """Where nginx listens, finds the services, keeps its files, and finds the blob cache."""

    listen: str
    upstreams: Mapping[str, Sequence[str]]
    cache_dir: str
    pid_path: str = "/var/run/nginx.pid"
    error_log: str = "/dev/stderr"
    access_log: str = "/dev/stdout"
    temp_dir: str | None = None
    user: str | None = None
    extra_http: Sequence[str] = field(default_factory=tuple)


def _json_error(status: int, code: str, message: str) -> str:
    body = json.dumps({"error-list": [{"code": code, "message": message}]})
    return f"return {status} '{body}';"


def _route_locations() -> list[str]:
    lines = []
    for route in ROUTES:
        buffering = ""
        if route.service == "downloads":
            # Misses stream as they arrive; big reads keep the relay cheap for many clients.
            buffering = (
                " proxy_buffering off; proxy_request_buffering off;"
                " proxy_buffer_size 256k; proxy_buffers 4 256k; proxy_busy_buffers_size 512k;"
            )
        target = f"proxy_pass http://{route.service};{buffering}"
        lines.append(f"        location ^~ {route.prefix} {{ {target} }}")
    return lines


def render_nginx_conf(layout: GatewayLayout) -> str:
    """The whole nginx.conf text for ``layout``."""
    upstream_blocks = []
    for service in SERVICE_NAMES:
        servers = "".join(
            f"        server {addr} max_fails=0;\n" for addr in layout.upstreams[service]
        )
        upstream_blocks.append(f"    upstream {service} {{\n{servers}        keepalive 16;\n    }}")
    every_server = "".join(
        f"        server {addr} max_fails=0;\n"
        for service in SERVICE_NAMES
        for addr in layout.upstreams[service]
    )
    upstream_blocks.append(f"    upstream suite {{\n{every_server}        keepalive 4;\n    }}")
    status_locations = [
        f"        location ^~ /_status/{service}/ {{ proxy_pass http://{service}/_status/; }}"
        for service in SERVICE_NAMES
    ]
    temp = ""
    if layout.temp_dir:
        temp = "".join(
            f"    {kind}_temp_path {layout.temp_dir}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
    user = f"user {layout.user};\n" if layout.user else ""
    extra = "".join(f"    {line}\n" for line in layout.extra_http)
    nl = "\n"
    return f"""# Rendered by `snap-proxy render-nginx` from shared/routes.py: do not edit by hand.
{user}worker_processes auto;
pid {layout.pid_path};
error_log {layout.error_log} warn;

events {{
    worker_connections 4096;
}}

http {{
    default_type application/json;
    access_log {layout.access_log};
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    client_max_body_size {MAX_BODY};
    server_tokens off;
{temp}{extra}
    map $http_x_request_id $snapproxy_request_id {{
        default $http_x_request_id;
        "" $request_id;
    }}

{nl.join(upstream_blocks)}

    server {{
        listen {layout.listen};

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Request-Id $snapproxy_request_id;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_read_timeout 300s;
        add_header X-Request-Id $snapproxy_request_id always;

        # nginx refuses malformed requests itself; say so in the Store's shape. (A named
        # location does not work here: with an invalid URI nginx then answers 500.)
        error_page 400 /_bad_request;
        error_page 413 @too_large;
        error_page 502 504 =503 @service_down;

        location = /_status/ping {{ return 200 '{{"service": "gateway", "status": "ok"}}'; }}
        location = /_status/check {{
            proxy_pass http://suite/_status/suite;
            proxy_next_upstream error timeout http_502 http_504;
        }}
{nl.join(status_locations)}

{nl.join(_route_locations())}

        location /_cache/ {{
            internal;
            alias {layout.cache_dir.rstrip("/")}/;
            default_type application/octet-stream;
            etag off;
            add_header ETag $upstream_http_etag always;
            add_header X-Request-Id $snapproxy_request_id always;
        }}

        location / {{ {_json_error(404, "not-found", "no such endpoint")} }}
        location = /_bad_request {{
            internal;
            {_json_error(400, "invalid-request", "malformed request")}
        }}
        location @too_large {{ {_json_error(413, "request-too-large", "request body over 1 MiB")} }}
        location @service_down {{
            {_json_error(503, "service-unavailable", "a snapproxy service is not answering")}
        }}
    }}
}}
"""


def compose_layout() -> GatewayLayout:
    """The gateway of docker-compose.yml: services by their compose names."""
    return GatewayLayout(
        listen="80",
        upstreams={service: [f"{service}:8000"] for service in SERVICE_NAMES},
        cache_dir="/var/lib/snapproxy/cache",
    )
