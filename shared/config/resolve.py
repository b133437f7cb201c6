"""Where each setting's value comes from: default < bootstrap file or ``config`` table <
environment (``SNAPPROXY_*``, or values a caller passed explicitly).

The environment layer is a ``Settings`` built from the environment: the fields it sets
(``model_fields_set``) win. The bootstrap file holds the bootstrap keys, the table the others.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import PrivateAttr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from shared.config.keys import KEYS, ConfigKey
from shared.config.values import ConfigValueError
from shared.settings import ConfigError, Settings


class Source(enum.StrEnum):
    DEFAULT = "default"
    CONFIG = "config"  # the config table, or the bootstrap file for bootstrap keys
    ENVIRONMENT = "environment"


@dataclass(frozen=True)
class Layers:
    """What a process's settings are made of."""

    environment: Settings
    bootstrap: Mapping[str, Any] = field(default_factory=dict)
    table: Mapping[str, str] = field(default_factory=dict)


class ConfiguredSettings(Settings):
    """Settings made from resolved values only (the environment is read once, into the
    environment layer); they remember their layers (``LiveSettings`` starts from them)."""

    _layers: Layers | None = PrivateAttr(default=None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @property
    def layers(self) -> Layers | None:
        return self._layers


@dataclass(frozen=True)
class Resolved:
    settings: ConfiguredSettings
    sources: dict[str, Source]  # by key name
    layers: Layers
    ignored: tuple[str, ...] = ()  # table rows naming no key (left by another version)


def stored_text(key: ConfigKey, layers: Layers) -> str | None:
    """The key's text in the bootstrap file or the table, if it has one there."""
    raw = layers.bootstrap.get(key.name) if key.bootstrap else layers.table.get(key.name)
    if raw is None:
        return None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    text = str(raw)
    return text if text.strip() else None


def resolve(layers: Layers, *, check: bool = True) -> Resolved:
    """The settings ``layers`` make; ConfigError naming the key when a stored value does not
    parse, or (``check``) when the whole does not work (``Settings.validate_all``)."""
    environment = layers.environment
    explicit = environment.model_fields_set
    values: dict[str, Any] = {name: getattr(environment, name) for name in explicit}
    sources: dict[str, Source] = {}
    for key in KEYS:
        if key.field in explicit:
            sources[key.name] = Source.ENVIRONMENT
            continue
        text = stored_text(key, layers)
        if text is None:
            sources[key.name] = Source.DEFAULT
            continue
        try:
            values[key.field] = key.parse(text)
        except ConfigValueError as exc:
            where = "the bootstrap file" if key.bootstrap else "the config table"
            raise ConfigError(f"{key.name} (in {where}): {exc}") from None
        sources[key.name] = Source.CONFIG
    try:
        settings = ConfiguredSettings(**values)
    except ValidationError as exc:  # values were validated one by one: a bug if it happens
        raise ConfigError(f"the configuration does not validate: {exc}") from None
    settings._layers = layers
    if check:
        settings.validate_all()
    known = {key.name for key in KEYS}
    ignored = tuple(sorted(name for name in layers.table if name not in known))
    return Resolved(settings, sources, layers, ignored)


def layers_of(settings: Settings) -> Layers:
    """The layers ``settings`` were resolved from; a plain ``Settings`` (the environment, or
    values a test passed) is an environment layer of its own."""
    if isinstance(settings, ConfiguredSettings) and settings.layers is not None:
        return settings.layers
    return Layers(environment=settings)


def changed_keys(before: Settings, after: Settings) -> list[ConfigKey]:
    """The keys whose values differ."""
    return [
        key
        for key in KEYS
        if key.text(getattr(before, key.field)) != key.text(getattr(after, key.field))
    ]
