"""The refresh request (``POST /v2/snaps/refresh``) as snapd sends it (store API reference,
"snap actions"): what the route accepts, and what the OpenAPI document shows.

Only what the proxy relies on is checked (it relays the body byte-exact, so the upstream
sees every other field as the device sent it); anything else is allowed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.names import MAX_REVISION, SNAP_NAME, is_snap_name

Kind = Literal["install", "download", "refresh", "fetch-assertions"]


class _Relayed(BaseModel):
    """Strict types (JSON numbers are not strings, booleans are not numbers), and fields the
    proxy does not read pass through."""

    model_config = ConfigDict(strict=True, extra="allow")


class ContextEntry(_Relayed):
    """One snap installed on the device."""

    snap_id: str = Field(alias="snap-id")
    instance_key: str = Field(alias="instance-key")
    revision: int = Field(ge=-MAX_REVISION, le=MAX_REVISION)
    tracking_channel: str | None = Field(default=None, alias="tracking-channel")


class SnapAction(_Relayed):
    """install and download name a snap, refresh a snap-id; each has an instance-key.
    fetch-assertions has a key of its own and a list of assertions."""

    action: Kind
    instance_key: str | None = Field(default=None, alias="instance-key")
    name: str | None = Field(default=None, json_schema_extra={"pattern": f"^{SNAP_NAME.pattern}$"})
    snap_id: str | None = Field(default=None, alias="snap-id")
    channel: str | None = None
    revision: int | None = Field(default=None, ge=1, le=MAX_REVISION)
    cohort_key: str | None = Field(default=None, alias="cohort-key")
    epoch: Any = None
    key: str | None = None
    assertions: list[Any] = Field(default_factory=list)

    @model_validator(mode="after")
    def _what_the_kind_needs(self) -> SnapAction:
        kind = self.action
        if kind == "fetch-assertions":
            if self.key is None:
                raise ValueError("fetch-assertions needs a key")
            return self
        if self.instance_key is None:
            raise ValueError(f"{kind} needs an instance-key")
        if kind == "refresh":
            if self.snap_id is None:
                raise ValueError("refresh needs a snap-id")
        elif self.name is None:
            raise ValueError(f"{kind} needs a name")
        elif not is_snap_name(self.name):
            raise ValueError(f"{kind} has an invalid snap name")
        return self


class SnapActionRequest(_Relayed):
    """The body of ``POST /v2/snaps/refresh``."""

    context: list[ContextEntry] = Field(default_factory=list)
    actions: list[SnapAction]
    fields: list[str] = Field(default_factory=list)
