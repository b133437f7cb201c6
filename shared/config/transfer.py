"""``--export-yaml`` and ``--import-yaml``: the stored configuration as one YAML document.

The export holds what was set with ``snap-proxy config`` (the table and the bootstrap keys),
secrets in clear (it is for backups and for cloning a node), one key a line, sorted, every
value a string: the same configuration always exports to the same bytes. The environment
is not part of it (it belongs to the processes, not to the stored configuration).

An import is a restore: every value is validated first, then the table holds exactly the
file's keys, and the file's bootstrap keys replace this node's (bootstrap keys it does not
name are kept: they describe how this node reaches its database).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from shared.config.changes import Change, ConfigRefused, parse_changes
from shared.config.keys import KEYS
from shared.config.resolve import Layers, stored_text

HEADER = (
    "# snapproxy configuration: `snap-proxy config --export-yaml`; restore with\n"
    "# `snap-proxy config --import-yaml FILE`. It holds secrets: keep it private.\n"
)


def export_yaml(layers: Layers) -> str:
    stored = {key.name: text for key in KEYS if (text := stored_text(key, layers)) is not None}
    body = yaml.safe_dump(
        stored, sort_keys=True, default_flow_style=False, allow_unicode=True, width=4096
    )
    return HEADER + (body if stored else "{}\n")


def _text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    raise ConfigRefused([f"{name}: is not a value (a {type(value).__name__})"])


def import_changes(text: str) -> list[Change]:
    """The changes a YAML document makes (ConfigRefused for anything that does not parse)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigRefused([f"not valid YAML: {str(exc).splitlines()[0]}"]) from None
    if document is None:
        document = {}
    if not isinstance(document, dict) or not all(isinstance(k, str) for k in document):
        raise ConfigRefused(["not a mapping of configuration keys to values"])
    return parse_changes((name, _text(name, value)) for name, value in document.items())
