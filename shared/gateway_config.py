"""Render the nginx gateway config from the route table (``shared.routes``).

``deploy/nginx/nginx.conf`` (compose), the Kubernetes gateway's ConfigMaps
(``deploy/k8s/``) and the split topology's config all come from here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from shared.gateway_tls import GatewayTls, listen_lines, redirect_server
from shared.routes import ROUTES
from shared.settings import SERVICE_NAMES
from shared.upstream import RELAYED_REQUEST_HEADERS

MAX_BODY = "1m"
# Request headers the gateway passes to the services: what devices send the store (relayed
# upstream by the services), Range for downloads, and nothing else (nginx sets Host and the
# X-Forwarded-* and X-Request-Id headers itself), the name an admin gives for the
# overrides' audit log (``services.revisions.admin_routes``), and Cookie for the dashboard's
# session (``services.devicegw.dashboard``; no service relays it upstream).
FORWARDED_HEADERS: tuple[str, ...] = (
    *sorted(RELAYED_REQUEST_HEADERS),
    "range",
    "if-range",
    "x-snapproxy-actor",
    "cookie",
)


def _variable(header: str) -> str:
    """nginx's variable for a request header."""
    return "http_" + header.lower().replace("-", "_")


# The internal locations cache hits are sent from (X-Accel-Redirect): with Range, without.
ACCEL_RANGES = "/_cache/"
ACCEL_WHOLE = "/_cache_whole/"
# The same for blobs in an object store: /_object/<sha3>/<bucket>/<key>?<presigned query>.
ACCEL_OBJECT_RANGES = "/_object/"
ACCEL_OBJECT_WHOLE = "/_object_whole/"
# Sent by nginx when the file of a hit is gone (another process deleted it after the service
# found it): the service then looks in the store again (``storage.FOUND_VALID``).
CACHE_RECHECK_HEADER = "X-Snapproxy-Cache-Recheck"


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
    # Cache hits sent by nginx from ``cache_dir`` (X-Accel-Redirect): only where the gateway
    # mounts the downloads service's cache volume; without, every hit goes through downloads.
    accel_redirect: bool = True
    worker_processes: str = "auto"
    # proxy.trust-forwarded-proto: pass on the X-Forwarded-Proto of whatever is in front (a
    # TLS-terminating load balancer) instead of nginx's own scheme.
    trust_forwarded_proto: bool = False
    # The S3 backend's object store (``http(s)://host:port``): cache hits are fetched from it
    # with the presigned URL the downloads service answers (X-Accel-Redirect).
    object_store: str | None = None
    # HTTPS (proxy.tls.cert): the suite on tls.listen, and ``listen`` redirects there.
    tls: GatewayTls | None = None


def _json_error(status: int, code: str, message: str) -> str:
    body = json.dumps({"error-list": [{"code": code, "message": message}]})
    return f"return {status} '{body}';"


# Misses stream as they arrive; big reads keep the relay cheap for many clients.
STREAMING = (
    " proxy_buffering off; proxy_request_buffering off;"
    " proxy_buffer_size 256k; proxy_buffers 4 256k; proxy_busy_buffers_size 512k;"
)


def _route_locations() -> list[str]:
    lines = []
    for route in ROUTES:
        options = STREAMING if route.service == "downloads" else ""
        if route.prefix == "/v2/snaps/":
            # The device API's /v2/snaps/ calls (refresh, info, find) change nothing: one
            # cut by a replica that is stopping (a reset before its answer) goes to another,
            # POST included.
            options = " proxy_next_upstream error timeout non_idempotent;"
        target = f"proxy_pass http://{route.service};{options}"
        lines.append(f"        location ^~ {route.prefix} {{ {target} }}")
    return lines


def _object_locations(layout: GatewayLayout) -> str:
    """Cache hits in an object store: nginx fetches the presigned URL (only the host is
    signed, so the client's Range can go with it, or not, as for files)."""
    if not layout.object_store:
        return ""
    store = urlsplit(layout.object_store)
    blob = "(?<snapproxy_blob>[0-9a-f]{96})(?<snapproxy_object>/.*)$"
    blocks = []
    for prefix, range_header in ((ACCEL_OBJECT_RANGES, "$http_range"), (ACCEL_OBJECT_WHOLE, '""')):
        blocks.append(
            f"""        location ~ "^{prefix}{blob}" {{
            internal;
            proxy_pass {store.scheme}://object_store$snapproxy_object$is_args$args;
            proxy_set_header Host {store.netloc};
            proxy_set_header Range {range_header};
            proxy_set_header Connection "";
            proxy_ssl_server_name on;
            proxy_hide_header ETag;
            proxy_hide_header x-amz-request-id;
            proxy_hide_header x-amz-id-2;
            add_header ETag "\\"$snapproxy_blob\\"" always;
            add_header X-Request-Id $snapproxy_request_id always;
        }}
"""
        )
    return "".join(blocks)


def _accel_locations(layout: GatewayLayout) -> str:
    """The internal locations cache hits are sent from, or a note that there are none."""
    if not layout.accel_redirect:
        return "        # No cache volume here: the downloads service sends cache hits itself.\n"
    alias = layout.cache_dir.rstrip("/") + "/"
    return f"""\
        # Cache hits, sent by nginx for the downloads service (X-Accel-Redirect): one range
        # at most (more are answered with the whole file, as the service does on a miss),
        # and a twin that ignores Range, for a request whose Range the service ignored.
        location {ACCEL_RANGES} {{
            internal;
            alias {alias};
            default_type application/octet-stream;
            max_ranges 1;
            etag off;
            add_header ETag $upstream_http_etag always;
            add_header X-Request-Id $snapproxy_request_id always;
            error_page 404 = @cache_file_gone;
        }}
        location {ACCEL_WHOLE} {{
            internal;
            alias {alias};
            default_type application/octet-stream;
            max_ranges 0;
            etag off;
            add_header ETag $upstream_http_etag always;
            add_header X-Request-Id $snapproxy_request_id always;
            error_page 404 = @cache_file_gone;
        }}
        # A hit whose file was evicted after the service answered and before nginx opened
        # it: the service is asked again, told to look in the store again ($uri is the
        # hit's location here: X-Snapproxy-Cache-Recheck is 1), and answers the miss it has
        # become (once: nginx does not follow error_page twice for one request).
        location @cache_file_gone {{
            proxy_pass http://downloads$request_uri;{STREAMING}
        }}
"""


def render_nginx_conf(layout: GatewayLayout) -> str:
    """The whole nginx.conf text for ``layout``."""
    not_found = _json_error(404, "not-found", "no such endpoint")
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
    if layout.object_store:
        store = urlsplit(layout.object_store)
        server = f"        server {store.netloc};\n        keepalive 8;\n"
        upstream_blocks.append(f"    upstream object_store {{\n{server}    }}")
    status_locations = [
        "        location = /_status/ping "
        '{ return 200 \'{"service": "gateway", "status": "ok"}\'; }',
        "        location = /_status/check {",
        "            proxy_pass http://suite/_status/suite;",
        "            proxy_next_upstream error timeout http_502 http_504;",
        "        }",
        *(
            f"        location ^~ /_status/{service}/ {{ proxy_pass http://{service}/_status/; }}"
            for service in SERVICE_NAMES
        ),
    ]
    temp = ""
    if layout.temp_dir:
        temp = "".join(
            f"    {kind}_temp_path {layout.temp_dir}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
    user = f"user {layout.user};\n" if layout.user else ""
    extra = "".join(f"    {line}\n" for line in layout.extra_http)
    forwarded_values = "".join(f"${_variable(name)}" for name in FORWARDED_HEADERS)
    forwarded = "\n".join(
        f"        proxy_set_header {name} ${_variable(name)};" for name in FORWARDED_HEADERS
    )
    nl = "\n"
    proto = "$scheme"
    recheck = ""
    if layout.accel_redirect:
        recheck = f"\n        proxy_set_header {CACHE_RECHECK_HEADER} $snapproxy_cache_recheck;"
        extra += (
            "    # 1 on the way from a cache hit's location to @cache_file_gone (the service\n"
            "    # then looks for the blob again); empty, so not sent, everywhere else.\n"
            "    map $uri $snapproxy_cache_recheck {\n"
            "        volatile;\n"
            f'        "~^({ACCEL_RANGES}|{ACCEL_WHOLE})" 1;\n'
            '        default "";\n'
            "    }\n"
        )
    if layout.trust_forwarded_proto:
        proto = "$snapproxy_forwarded_proto"
        extra += (
            "    map $http_x_forwarded_proto $snapproxy_forwarded_proto {\n"
            '        "~*^https$" https;\n'
            '        "~*^http$" http;\n'
            "        default $scheme;\n"
            "    }\n"
        )
    return f"""# Rendered by `snap-proxy render-nginx` from shared/routes.py: do not edit by hand.
{user}worker_processes {layout.worker_processes};
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
    # A client's request id is taken (and echoed) only when the services would take it
    # (shared.logging): nginx lets control characters and any length through in a header.
    map $http_x_request_id $snapproxy_request_id {{
        "~^[A-Za-z0-9._-]{{1,128}}$" $http_x_request_id;
        default $request_id;
    }}

    # A control character in a header the services read is refused here with a 400 (their
    # HTTP parser would refuse it by closing, which nginx would have to answer with a 503);
    # not on the way to nginx's own error page (so volatile): that refusal must not refuse
    # itself. The URI is not looked at: nginx judges it itself.
    map $uri $snapproxy_error_page {{
        volatile;
        /_bad_request 1;
        default 0;
    }}
    map "$snapproxy_error_page|{forwarded_values}" $snapproxy_bad_header {{
        volatile;
        "~^1\\|" 0;
        "~[\\x01-\\x08\\x0a-\\x1f\\x7f]" 1;
        default 0;
    }}

{nl.join(upstream_blocks)}

    server {{
{listen_lines(layout.listen, layout.tls)}

        proxy_http_version 1.1;
        # Only the headers the services read go to them: a header nobody reads cannot trip a
        # service's HTTP parser. (nginx still sends the body's own framing headers.)
        proxy_pass_request_headers off;
{forwarded}
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Request-Id $snapproxy_request_id;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto {proto};
        proxy_set_header X-Forwarded-Host $http_host;{recheck}
        proxy_read_timeout 300s;
        add_header X-Request-Id $snapproxy_request_id always;

        # nginx refuses malformed requests itself; say so in the Store's shape. (A named
        # location does not work here: with an invalid URI nginx then answers 500.) An
        # unknown Transfer-Encoding (501) or HTTP version (505) is a client's error too, and
        # so are headers over nginx's buffers (494, "Request Header Or Cookie Too Large").
        error_page 400 494 /_bad_request;
        error_page 501 505 =400 /_bad_request;
        error_page 404 /_not_found;
        error_page 405 /_not_allowed;
        error_page 414 /_too_long;
        error_page 413 @too_large;
        error_page 502 504 =503 @service_down;
        if ($snapproxy_bad_header) {{ return 400; }}

{nl.join(status_locations)}

{nl.join(_route_locations())}

{_accel_locations(layout)}
{_object_locations(layout)}        location / {{ {not_found} }}
        location = /_bad_request {{
            internal;
            {_json_error(400, "invalid-request", "malformed request")}
        }}
        location = /_not_found {{ internal; {_json_error(404, "not-found", "no such endpoint")} }}
        location = /_not_allowed {{
            internal;
            {_json_error(405, "method-not-allowed", "method not allowed")}
        }}
        location = /_too_long {{
            internal;
            {_json_error(414, "request-too-large", "request target too long")}
        }}
        location @too_large {{ {_json_error(413, "request-too-large", "request body over 1 MiB")} }}
        location @service_down {{
            add_header Retry-After 5 always;
            {_json_error(503, "service-unavailable", "a snapproxy service is not answering")}
        }}
    }}
{redirect_server(layout.listen, layout.tls, nl.join(status_locations))}}}
"""
