"""Helpers every command uses: settings with clear failures, one-line fatal errors."""

from __future__ import annotations

import getpass
import os
import sys
from typing import NoReturn

import typer
from pydantic import ValidationError

from shared.config.bootstrap import BootstrapError
from shared.config.load import ConfigUnavailable, bootstrap_layers, configured_settings
from shared.config.resolve import ConfiguredSettings, resolve
from shared.dbroles import service_layers
from shared.settings import ConfigError, Settings, load_settings


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit non-zero."""
    typer.echo(f"snap-proxy: error: {message}", err=True)
    raise typer.Exit(code)


def environment_or_exit(**overrides: object) -> Settings:
    """Settings from the environment alone (with ``overrides``); a bad value ends the
    command with one line naming the variable."""
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "SNAPPROXY_" + "_".join(str(p) for p in error["loc"]).upper()
        fail(f"{name}: {error['msg']}", 2)


def settings_or_exit(service: str | None = None, **overrides: object) -> ConfiguredSettings:
    """Settings from the environment and the bootstrap file (the database connection), no
    database needed; a bad value ends the command with one line. With ``service``: on that
    service's own database role (``shared.dbroles``)."""
    environment = environment_or_exit(**overrides)
    try:
        layers = bootstrap_layers(environment)
        return resolve(service_layers(layers, service) if service else layers).settings
    except ConfigError as exc:
        fail(str(exc), 2)
    except BootstrapError as exc:
        fail(str(exc))


def configured_or_exit(service: str | None = None, **overrides: object) -> ConfiguredSettings:
    """Settings from every layer: environment, bootstrap file and the ``config`` table (what
    a serving process runs with; ``service``: on its own database role); one line and a
    non-zero exit when one does not work."""
    settings_or_exit(service, **overrides)  # the environment and the bootstrap file, checked
    try:
        given = {k: v for k, v in overrides.items() if v is not None}
        return configured_settings(service, **given)
    except ConfigError as exc:
        fail(str(exc), 2)
    except (BootstrapError, ConfigUnavailable) as exc:
        fail(str(exc))


def ask_secret(prompt: str) -> str:
    """A secret the admin types: without echo on a terminal (getpass); otherwise one line
    of standard input, read a byte at a time so that the next command of a script reading the
    same input gets the next line. The prompt goes to stderr; EOFError at the end of input."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    sys.stderr.write(prompt)
    sys.stderr.flush()
    try:
        descriptor = sys.stdin.fileno()
    except (OSError, ValueError):  # not a file (io.UnsupportedOperation is an OSError)
        text = sys.stdin.readline()
        sys.stderr.write("\n")
        if not text:
            raise EOFError from None
        return text.rstrip("\r\n")
    line = bytearray()
    while True:
        byte = os.read(descriptor, 1)
        if not byte:
            if not line:
                sys.stderr.write("\n")
                raise EOFError
            break
        if byte == b"\n":
            break
        line += byte
    sys.stderr.write("\n")
    return line.decode("utf-8").rstrip("\r")


def best_settings() -> tuple[Settings, str | None]:
    """Every layer (environment, bootstrap file, config table) when the database answers;
    else the environment and the bootstrap file, and why the table was left out (for
    commands that still work without it: status, check-connections)."""
    try:
        return configured_settings(), None
    except (ConfigError, BootstrapError, ConfigUnavailable) as exc:
        return settings_or_exit(), str(exc)


def proxy_url(settings: Settings, url: str | None) -> str:
    """``--url``, or the local gateway."""
    return (url or f"http://127.0.0.1:{settings.port}").rstrip("/")
