"""``snap-proxy serve``, ``serve-service``, ``run-split`` and ``render-nginx``."""

from __future__ import annotations

import contextlib
import enum
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer
import uvicorn

from shared.cli.common import configured_or_exit, fail, settings_or_exit
from shared.dbroles import EMBEDDED_READER
from shared.gateway_config import render_nginx_conf
from shared.gateway_layouts import LayoutName, named_layout
from shared.gateway_tls import CONTAINER_TLS_DIR, in_directory, write_gateway_pair
from shared.logging import configure_logging
from shared.metrics import MULTIPROC_ENV
from shared.preflight import PreflightError, check_ready_to_serve
from shared.sendfile_http import SendfileHttpProtocol
from shared.serving import (
    DrainingServer,
    granian_server,
    head_timeout,
    keep_alive_seconds,
    listening_socket,
)
from shared.settings import LOOPBACK_PROXIES, SERVICE_NAMES, Settings


class Server(enum.StrEnum):
    granian = "granian"
    uvicorn = "uvicorn"


CLIENT_HINT = """\
snapproxy is listening on http://{host}:{port}/ (all five services in one process)
  health:       curl http://{host}:{port}/_status/check
  snap client:  SNAPPY_FORCE_API_URL={public}/ snap download hello
  snapd daemon: curl -s {public}/client-setup.sh | sudo sh
"""


def _grace(settings: Settings) -> int:
    """Seconds a stopping server waits for open responses (a long download must not keep
    the process alive forever); fills get the same grace again (``BlobCache.aclose``)."""
    return max(1, round(settings.shutdown_grace))


def _preflight(settings: Settings) -> None:
    try:
        check_ready_to_serve(settings)
    except PreflightError as exc:
        fail(str(exc))


def serve(
    host: str = typer.Option(None, help="Address to listen on [SNAPPROXY_HOST]."),
    port: int = typer.Option(None, help="Port to listen on [SNAPPROXY_PORT]."),
    server: Server = typer.Option(
        None,
        help="ASGI server. uvicorn (the default) hands cached files to the kernel "
        "(sendfile, as nginx does) and serves HTTPS once a certificate is imported; granian "
        "sends them from Rust, at about twice the CPU per byte, and serves HTTP only.",
        show_default=False,
    ),
) -> None:
    """Run the whole suite in one process (the embedded default); HTTPS too once a
    certificate is imported (`snap-proxy import-certificate`)."""
    # The process reads the configuration as the device gateway's role (shared.dbroles);
    # each service's engine connects as its own (shared.embedded).
    _preflight(settings_or_exit(EMBEDDED_READER, host=host, port=port))
    settings = configured_or_exit(EMBEDDED_READER, host=host, port=port)
    configure_logging(settings.log_format, settings.log_level)
    if settings.tls_enabled:
        if server is Server.granian:
            fail(
                "granian cannot reload a certificate: with proxy.tls.cert set, serve with "
                "--server uvicorn (the default)",
                2,
            )
        _serve_https(settings)
        return
    server = server or Server.uvicorn
    public = settings.configured_public_url or f"http://{settings.host}:{settings.port}"
    typer.echo(CLIENT_HINT.format(host=settings.host, port=settings.port, public=public))
    target = "shared.embedded:create_embedded_app"
    # Connection timeouts as nginx has them in the split topology (shared/serving.py).
    if server is Server.uvicorn:
        sock = listening_socket(settings.host, settings.port, settings.send_timeout)
        config = uvicorn.Config(
            target,
            factory=True,
            http=SendfileHttpProtocol.with_head_timeout(head_timeout(settings)),
            loop="asyncio",  # uvloop has no sendfile (shared/sendfile_http.py)
            log_level="warning",
            access_log=False,
            proxy_headers=False,  # shared.http.client_view decides, from the trusted proxies
            timeout_keep_alive=keep_alive_seconds(settings.keepalive_timeout),
            timeout_graceful_shutdown=_grace(settings),
        )
        uvicorn.Server(config).run(sockets=[sock])
        return
    # The worker builds the app from the environment: hand it the options given here.
    os.environ["SNAPPROXY_HOST"], os.environ["SNAPPROXY_PORT"] = settings.host, str(settings.port)
    granian_server(
        target,
        settings.host,
        settings.port,
        settings,
        workers_kill_timeout=2 * _grace(settings),
    ).serve()


def _serve_https(settings: Settings) -> None:
    from shared.tls_server import serve_https

    http = listening_socket(settings.host, settings.port, settings.send_timeout)
    https = listening_socket(settings.host, settings.port_https, settings.send_timeout)
    public = settings.configured_public_url or f"https://{settings.host}:{settings.port_https}"
    typer.echo(
        CLIENT_HINT.format(host=settings.host, port=settings.port, public=public).replace(
            f"listening on http://{settings.host}:{settings.port}/",
            f"listening on https://{settings.host}:{settings.port_https}/ (HTTP on "
            f"{settings.port} redirects there)",
        )
    )
    serve_https(
        settings,
        http,
        https,
        http=SendfileHttpProtocol.with_head_timeout(head_timeout(settings)),
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        timeout_keep_alive=keep_alive_seconds(settings.keepalive_timeout),
        timeout_graceful_shutdown=_grace(settings),
    )


def serve_service(
    service: str = typer.Argument(..., help="One of: " + ", ".join(SERVICE_NAMES)),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="uvicorn worker processes."),
) -> None:
    """Run one service on its own (the split topology and containers)."""
    if service not in SERVICE_NAMES:
        fail(f"unknown service {service!r}; choose one of {', '.join(SERVICE_NAMES)}", 2)
    _preflight(settings_or_exit(service))
    settings = configured_or_exit(service)
    # Behind the split topology's nginx on loopback unless told otherwise (`none`: nobody).
    if settings.trusted_proxies is None:
        os.environ["SNAPPROXY_TRUSTED_PROXIES"] = LOOPBACK_PROXIES
    configure_logging(settings.log_format, settings.log_level)
    typer.echo(f"snapproxy {service} listening on http://{host}:{port}/")
    with metrics_across_workers(workers):
        _run_service(service, host, port, workers, settings)


def serve_service_alone(args: list[str]) -> None:
    """``snap-proxy serve-service ARGS`` with this command alone (``shared.cli.main``); exits
    with the command's status, as click does."""
    alone = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    alone.command()(serve_service)
    alone(args=args, prog_name="snap-proxy serve-service")


def _run_service(service: str, host: str, port: int, workers: int, settings: Settings) -> None:
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
        "proxy_headers": False,  # shared.http.client_view decides, from the trusted proxies
        # Longer than nginx keeps an idle upstream connection (60 s), so nginx never reuses
        # one this end is closing.
        "timeout_keep_alive": keep_alive_seconds(settings.keepalive_timeout),
        "timeout_graceful_shutdown": _grace(settings),
    }
    target = f"services.{service}.app:create_app"
    if workers > 1:  # uvicorn's supervisor: each worker stops on its own signal, no drain
        uvicorn.run(target, workers=workers, **options)
        return
    # SIGTERM: drain first (services.shutdown-delay), then stop accepting, then finish.
    DrainingServer(uvicorn.Config(target, **options), settings.shutdown_delay).run()


@contextlib.contextmanager
def metrics_across_workers(workers: int) -> Iterator[None]:
    """Several uvicorn workers share one socket, and a scrape reaches any one of them: they
    keep their metrics in files of a fresh directory (prometheus-client's multiprocess mode,
    ``shared.metrics``), removed when the service stops. One worker: nothing to share."""
    if workers <= 1 or os.environ.get(MULTIPROC_ENV):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="snapproxy-metrics-") as directory:
        os.environ[MULTIPROC_ENV] = directory
        try:
            yield
        finally:
            del os.environ[MULTIPROC_ENV]


def render_nginx(
    output: Path = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
    layout_name: LayoutName = typer.Option(
        LayoutName.compose,
        "--layout",
        help="compose: docker-compose.yml's gateway; kubernetes: deploy/k8s's (hits through "
        "the downloads service); kubernetes-local-cache: the gateway mounts the cache volume; "
        "kubernetes-tls: either of those with HTTPS on 8443 from the mounted "
        "snapproxy-gateway-tls Secret, HTTP redirected to proxy.port.https "
        "(deploy/k8s/components/tls).",
    ),
    tls_dir: Path = typer.Option(
        None,
        "--tls-dir",
        help="Serve HTTPS: write proxy.tls.cert and proxy.tls.key (from the configuration) "
        "here as proxy.crt and proxy.key, for the gateway to mount at /etc/nginx/tls "
        "(compose: deploy/nginx/tls); HTTP then redirects to HTTPS.",
    ),
) -> None:
    """Print the gateway's nginx.conf, rendered from the route table
    (proxy.trust-forwarded-proto: SNAPPROXY_TRUST_FORWARDED_PROTO=true in its environment)."""
    settings = settings_or_exit() if tls_dir is None else configured_or_exit()
    layout = replace(
        named_layout(layout_name, settings.port_https),
        trust_forwarded_proto=settings.trust_forwarded_proto,
    )
    if tls_dir is not None:
        if layout.tls is not None:
            fail(f"--layout {layout_name.value} serves the mounted Secret's pair: no --tls-dir", 2)
        if not write_gateway_pair(settings, tls_dir):
            fail("no certificate to serve: run `snap-proxy import-certificate` first", 2)
        listen = "8443" if layout.listen == "8080" else "443"  # unprivileged on Kubernetes
        layout = replace(layout, tls=in_directory(CONTAINER_TLS_DIR, listen, settings.port_https))
    text = render_nginx_conf(layout)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)


def run_split(
    port: int = typer.Option(
        None, help="Port for the nginx gateway [default: proxy.port.http, SNAPPROXY_PORT]."
    ),
    workdir: Path = typer.Option(Path("var/split"), help="Where logs and nginx files go."),
) -> None:
    """Run each service as its own uvicorn process behind nginx (needs PostgreSQL, memcached).

    It follows the configuration: when a key that needs a restart changes (`snap-proxy
    config`), it renders nginx's configuration again and reloads it (the gateway's address
    and port), or restarts the services one at a time (the other keys)."""
    from shared.config.follow import TopologyFollower
    from shared.split import SplitTopology, SplitTopologyError

    _preflight(settings_or_exit())
    settings = configured_or_exit()
    topology = SplitTopology(
        workdir=workdir.resolve(),
        gateway_port=port or settings.port,
        env_settings=settings,
        gateway_host=settings.host,
        pin_public_url=False,
    )
    try:
        topology.start()
    except SplitTopologyError as exc:
        topology.stop()
        fail(str(exc))
    typer.echo(f"split topology up: gateway {topology.gateway_url}/ (logs in {workdir})")
    for name, url in topology.service_urls.items():
        typer.echo(f"  {name}: {url}")
    follower = TopologyFollower(topology, settings, fixed_port=port)
    try:
        while topology.running():
            time.sleep(follower.poll_interval)
            for line in follower.poll():
                typer.echo(line)
    except KeyboardInterrupt:
        pass
    finally:
        follower.close()
        topology.stop()


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command("serve-service")(serve_service)
    app.command("run-split")(run_split)
    app.command("render-nginx")(render_nginx)
