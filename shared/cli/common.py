"""Helpers every command uses: settings with clear failures, one-line fatal errors."""

from __future__ import annotations

from typing import NoReturn

import typer
from pydantic import ValidationError

from shared.settings import ConfigError, Settings, load_settings


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit non-zero."""
    typer.echo(f"snap-proxy: error: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit(**overrides: object) -> Settings:
    """Settings from the environment; a bad value ends the command with one line."""
    try:
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
        settings.validate_all()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "SNAPPROXY_" + "_".join(str(p) for p in error["loc"]).upper()
        fail(f"{name}: {error['msg']}", 2)
    except ConfigError as exc:
        fail(str(exc), 2)
    return settings
