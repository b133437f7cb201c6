"""``snap-proxy serve``, ``serve-service``, ``run-split`` and ``render-nginx``."""

from __future__ import annotations

import enum
import os
from pathlib import Path

import typer
import uvicorn

from shared.cli.common import fail, settings_or_exit
from shared.gateway_config import compose_layout, render_nginx_conf
from shared.logging import configure_logging
from shared.preflight import PreflightError, check_ready_to_serve
from shared.settings import SERVICE_NAMES, Settings


class Server(enum.StrEnum):
    granian = "granian"
    uvicorn = "uvicorn"


CLIENT_HINT = """\
snapproxy is listening on http://{host}:{port}/ (all five services in one process)
  health:       curl http://{host}:{port}/_status/check
  snap client:  SNAPPY_FORCE_API_URL={public}/ snap download hello
  snapd daemon: curl -s {public}/client-setup.sh | sudo sh
"""


def _preflight(settings: Settings) -> None:
    try:
        check_ready_to_serve(settings)
    except PreflightError as exc:
        fail(str(exc))


def serve(
    host: str = typer.Option(None, help="Address to listen on [SNAPPROXY_HOST]."),
    port: int = typer.Option(None, help="Port to listen on [SNAPPROXY_PORT]."),
    server: Server = typer.Option(
        Server.granian,
        help="ASGI server: granian sends cached files with the pathsend extension (as fast "
        "as nginx); uvicorn copies them through Python.",
    ),
) -> None:
    """Run the whole suite in one process (the embedded default)."""
    settings = settings_or_exit(host=host, port=port)
    configure_logging(settings.log_format, settings.log_level)
    _preflight(settings)
    public = settings.public_url or f"http://{settings.host}:{settings.port}"
    typer.echo(CLIENT_HINT.format(host=settings.host, port=settings.port, public=public))
    target = "shared.embedded:create_embedded_app"
    if server is Server.uvicorn:
        uvicorn.run(
            target,
            factory=True,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
        )
        return
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    # The worker builds the app from the environment: hand it the options given here.
    os.environ["SNAPPROXY_HOST"], os.environ["SNAPPROXY_PORT"] = settings.host, str(settings.port)
    Granian(
        target,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        factory=True,
        log_level=LogLevels.warning,
    ).serve()


def serve_service(
    service: str = typer.Argument(..., help="One of: " + ", ".join(SERVICE_NAMES)),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="uvicorn worker processes."),
) -> None:
    """Run one service on its own (the split topology and containers)."""
    if service not in SERVICE_NAMES:
        fail(f"unknown service {service!r}; choose one of {', '.join(SERVICE_NAMES)}", 2)
    settings = settings_or_exit()
    configure_logging(settings.log_format, settings.log_level)
    _preflight(settings)
    typer.echo(f"snapproxy {service} listening on http://{host}:{port}/")
    uvicorn.run(
        f"services.{service}.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def render_nginx(
    output: Path = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
) -> None:
    """Print the gateway's nginx.conf for docker-compose, rendered from the route table."""
    text = render_nginx_conf(compose_layout())
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)


def run_split(
    port: int = typer.Option(8000, help="Port for the nginx gateway."),
    workdir: Path = typer.Option(Path("var/split"), help="Where logs and nginx files go."),
) -> None:
    """Run each service as its own uvicorn process behind nginx (needs PostgreSQL, memcached)."""
    from shared.split import SplitTopology, SplitTopologyError

    settings = settings_or_exit()
    topology = SplitTopology(workdir=workdir.resolve(), gateway_port=port, env_settings=settings)
    try:
        topology.start()
    except SplitTopologyError as exc:
        topology.stop()
        fail(str(exc))
    typer.echo(f"split topology up: gateway http://127.0.0.1:{port}/ (logs in {workdir})")
    for name, url in topology.service_urls.items():
        typer.echo(f"  {name}: {url}")
    try:
        topology.wait()
    except KeyboardInterrupt:
        pass
    finally:
        topology.stop()


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command("serve-service")(serve_service)
    app.command("run-split")(run_split)
    app.command("render-nginx")(render_nginx)
