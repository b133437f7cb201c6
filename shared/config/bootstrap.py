"""The bootstrap file: what a node needs before it can read the database.

``$SNAPPROXY_DATA_DIR/bootstrap.yaml`` holds the keys marked ``bootstrap`` in the registry
(``proxy.db.connection`` with its password, the database timeouts) and whatever else the
database setup keeps per node (``shared.dbsetup``: the services' role credentials). It is a
YAML mapping of key to value, mode 0600, and always replaced whole (write to a temporary
file, fsync, rename), so a reader never sees half of it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

BOOTSTRAP_FILE = "bootstrap.yaml"
MODE = 0o600
HEADER = (
    "# snapproxy bootstrap file: written by `snap-proxy config`; it holds the database\n"
    "# password, so only its owner may read it (mode 0600). Edit with `snap-proxy config`.\n"
)


class BootstrapError(Exception):
    """The bootstrap file cannot be read or written; the message names it."""


def bootstrap_path(data_dir: Path) -> Path:
    return data_dir / BOOTSTRAP_FILE


def read_bootstrap(data_dir: Path) -> dict[str, Any]:
    """The file's mapping; empty when there is no file."""
    path = bootstrap_path(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise BootstrapError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        content = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BootstrapError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if content is None:
        return {}
    if not isinstance(content, dict) or not all(isinstance(k, str) for k in content):
        raise BootstrapError(f"{path} is not a mapping of keys to values")
    return content


def write_bootstrap(data_dir: Path, values: Mapping[str, Any]) -> None:
    """Replace the file with ``values`` (atomically, mode 0600)."""
    path = bootstrap_path(data_dir)
    text = HEADER + yaml.safe_dump(dict(values), sort_keys=True, default_flow_style=False)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=data_dir, prefix=".bootstrap-", suffix=".tmp")
    except OSError as exc:
        raise BootstrapError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), MODE)
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        directory = os.open(data_dir, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise BootstrapError(f"cannot write {path}: {exc.strerror or exc}") from None


def update_bootstrap(data_dir: Path, changes: Mapping[str, Any]) -> None:
    """Set (or, for None, remove) some entries, keeping the others."""
    values = read_bootstrap(data_dir)
    for name, value in changes.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value
    write_bootstrap(data_dir, values)
