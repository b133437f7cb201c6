"""Reading the text of a configuration value: one parser per kind of value.

Each parser takes the text an admin typed (``snap-proxy config KEY=TEXT``, a line of an
imported YAML file, a row of the ``config`` table) and returns the value of the ``Settings``
field, or raises :class:`ConfigValueError` with what is wrong (the caller names the key).
Empty text means "not set" (the key's default); only optional fields accept it.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from shared.egress import parse_origin
from shared.settings import (
    SERVICE_NAMES,
    ConfigError,
    Settings,
    parse_cache_size,
    parse_networks,
    parse_size,
)

Parser = Callable[[str], object]
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class ConfigValueError(ValueError):
    """A value that cannot work; the message says what is wrong, without the key's name."""


def field_value(field: str, text: str) -> object:
    """``text`` validated as the ``Settings`` field ``field`` would be from the environment
    (its type, its bounds, its validators); None for empty text on an optional field."""
    info = Settings.model_fields[field]
    if not text.strip() and not info.is_required():
        if info.default is None:
            return None
        raise ConfigValueError("must not be empty")
    raw: Any = text.strip()
    if info.annotation is not None and getattr(info.annotation, "__origin__", None) is dict:
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ConfigValueError("is not a JSON object") from None
    holder = Settings.model_construct()
    try:
        Settings.__pydantic_validator__.validate_assignment(holder, field, raw)
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise ConfigValueError(message[0].lower() + message[1:]) from None
    return getattr(holder, field)


def plain(field: str) -> Parser:
    """A parser that only applies the field's own type and validators."""
    return lambda text: field_value(field, text)


def checked(field: str, check: Callable[[Any], None]) -> Parser:
    """The field's validation, then ``check(value)`` (a ConfigError or ValueError is a bad
    value) unless the value is None."""

    def parse(text: str) -> object:
        value = field_value(field, text)
        if value is not None:
            try:
                check(value)
            except (ConfigError, ValueError) as exc:
                raise ConfigValueError(_without_setting_name(str(exc)).strip()) from None
        return value

    return parse


def _without_setting_name(message: str) -> str:
    """``SNAPPROXY_X has 'v'; use ...`` -> ``has 'v'; use ...`` (the caller names the key)."""
    return re.sub(r"^SNAPPROXY_[A-Z_]+ ", "", message)


def http_url(text: str) -> None:
    """An http or https URL with a host."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ConfigValueError(f"{text!r} is not a URL: it needs http:// or https://")
    if not parts.hostname:
        raise ConfigValueError(f"{text!r} names no host")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigValueError(
            f"{text!r} has a port that is not a number from 1 to 65535"
        ) from None


def host_name(text: str) -> None:
    """A DNS name or an IP address, without scheme, port or path."""
    try:
        ipaddress.ip_address(text)
        return
    except ValueError:
        pass
    labels = text.rstrip(".").split(".")
    if len(text) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ConfigValueError(f"{text!r} is not a host name or IP address (no scheme or port)")


def bind_address(text: str) -> None:
    if text not in ("localhost",):
        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise ConfigValueError(f"{text!r} is not an IP address to listen on") from None


def database_url(text: str) -> None:
    """A PostgreSQL or SQLite URL (as ``Settings.sqlalchemy_url`` accepts)."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise ConfigValueError(
            f"{_hide_password(text)!r} is not a database URL; "
            "use postgresql://user@host:5432/db or sqlite:///path"
        ) from None
    Settings.model_construct(database_url=text).sqlalchemy_url  # noqa: B018 (ConfigError)
    if url.drivername.startswith("postgres") and not url.host:
        raise ConfigValueError("names no host (postgresql://user@HOST:5432/db)")


def _hide_password(text: str) -> str:
    try:
        return make_url(text).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", text)


def size(setting_value: str) -> None:
    parse_size(setting_value, "")


def cache_size(setting_value: str) -> None:
    try:
        parse_cache_size(setting_value, "")
    except ConfigError:
        raise ConfigValueError(
            f"{setting_value!r} is not a size: use a number of MB (2048) or a size such as "
            "50GiB; 0 for no cap"
        ) from None


def networks(setting_value: str) -> None:
    parse_networks(setting_value, "")


def memcached_servers(setting_value: str) -> None:
    Settings.model_construct(memcached=setting_value).memcached_servers  # noqa: B018


def cdn_hosts(setting_value: str) -> None:
    for entry in setting_value.split(","):
        if entry.strip():
            parse_origin(entry, "")


def service_urls(value: dict[str, str]) -> None:
    unknown = sorted(set(value) - set(SERVICE_NAMES))
    if unknown:
        raise ConfigValueError(f"names no such service: {', '.join(unknown)}")
    for url in value.values():
        http_url(url)


def pem_certificate(text: str) -> None:
    from cryptography import x509  # here: some 10 MiB that most processes never need

    try:
        x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise ConfigValueError("is not a PEM certificate (-----BEGIN CERTIFICATE-----)") from None


def forward_proxy(text: str) -> None:
    """A forward proxy's URL: http(s)://[user:password@]host:port, nothing after the port."""
    http_url(text)
    parts = urlsplit(text)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigValueError(
            "is a forward proxy's address: http://host:port, with no path or query"
        )


def ca_bundle(text: str) -> None:
    """One or more PEM certificates that OpenSSL accepts as trust anchors."""
    import ssl

    from cryptography import x509

    try:
        certificates = x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise ConfigValueError(
            "is not a PEM bundle of CA certificates (-----BEGIN CERTIFICATE-----)"
        ) from None
    try:
        ssl.create_default_context(cadata=text)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigValueError(f"is not a bundle OpenSSL can trust ({exc})") from None
    if not certificates:
        raise ConfigValueError("holds no certificate")


def pem_private_key(value: SecretStr) -> None:
    from cryptography.hazmat.primitives import serialization

    try:
        serialization.load_pem_private_key(value.get_secret_value().encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigValueError("is not an unencrypted PEM private key") from None


def redact_url_password(text: str) -> str:
    """The URL with its password (if any) replaced by ``***``."""
    return _hide_password(text) if text else text
