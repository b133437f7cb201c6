"""The interface of a key's apply hook: what ``snap-proxy config KEY=VALUE`` calls instead
of a plain store for keys that need more (``proxy.db.connection``: connect, set the database
up, keep the connection in the bootstrap file)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.settings import Settings


class ConfigApplyError(Exception):
    """The hook could not apply the value; the message is one line for the admin, and
    nothing was changed."""


@dataclass(frozen=True)
class ApplyContext:
    """What a hook may use: where the bootstrap file lives, the settings this command runs
    with (environment and bootstrap file, before the change), whether it may ask the admin
    (stdin is a terminal), and how to tell the admin something (one line each)."""

    data_dir: Path
    settings: Settings
    interactive: bool
    echo: Callable[[str], None]
    prompt_secret: Callable[[str], str]


@dataclass(frozen=True)
class Applied:
    """What a hook keeps: the key's text, and the bootstrap file's companion entries of the
    key (``ConfigKey.companions``; one left out, or None, is removed)."""

    text: str
    bootstrap: Mapping[str, Any] = field(default_factory=dict)


ApplyHook = Callable[[str, ApplyContext], "str | Applied"]
"""``hook(text, context) -> text to store``: called with the validated text of the key (the
other pairs of the command are validated too, and stored only if every hook succeeds). It
returns the value to keep (e.g. the URL with the password the admin typed), or raises
:class:`ConfigApplyError`. It must leave nothing changed when it fails."""
