"""Parsing and validating ``POST /v2/snaps/refresh`` request bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .channels import Channel, ChannelError, parse_channel

ACTIONS = ("install", "download", "refresh", "fetch-assertions")
MAX_ACTIONS = 1000


class RequestError(ValueError):
    """The body is not a valid snap action request (answered with 400)."""


@dataclass
class ContextItem:
    snap_id: str
    instance_key: str
    revision: int
    tracking_channel: Channel


@dataclass
class AssertionRef:
    type: str
    key: list[str]
    sequence_key: bool = False
    if_newer_than: int | None = None
    sequence: int | None = None
    if_sequence_at_least: int | None = None


@dataclass
class Action:
    action: str
    instance_key: str = ""
    name: str = ""
    snap_id: str = ""
    channel: Channel | None = None
    revision: int | None = None
    key: str = ""
    assertions: list[AssertionRef] = field(default_factory=list)


@dataclass
class RefreshRequest:
    context: dict[str, ContextItem]
    actions: list[Action]
    fields: list[str] | None
    max_formats: dict[str, int] | None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(obj: dict[str, Any], name: str, where: str, required: bool = True) -> str:
    value = obj.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise RequestError(f"{where}: '{name}' must be a non-empty string")
    return value


def _int(obj: dict[str, Any], name: str, where: str, minimum: int = 0) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if not _is_int(value) or value < minimum:
        raise RequestError(f"{where}: '{name}' must be an integer >= {minimum}")
    return int(value)


def _channel(obj: dict[str, Any], name: str, where: str) -> Channel | None:
    value = obj.get(name)
    if value is None:
        return None
    try:
        return parse_channel(value)
    except ChannelError as exc:
        raise RequestError(f"{where}: {exc}") from None


def _str_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RequestError(f"{what} must be a list of non-empty strings")
    return value


def parse_refresh(payload: Any) -> RefreshRequest:
    if not isinstance(payload, dict):
        raise RequestError("request body must be a JSON object")
    context_raw = payload.get("context", [])
    actions_raw = payload.get("actions")
    if not isinstance(context_raw, list):
        raise RequestError("'context' must be a list")
    if not isinstance(actions_raw, list):
        raise RequestError("'actions' must be a list")
    if len(actions_raw) > MAX_ACTIONS:
        raise RequestError(f"too many actions (at most {MAX_ACTIONS})")
    context: dict[str, ContextItem] = {}
    for index, item in enumerate(context_raw):
        where = f"context[{index}]"
        if not isinstance(item, dict):
            raise RequestError(f"{where} must be an object")
        ctx = ContextItem(
            snap_id=_string(item, "snap-id", where),
            instance_key=_string(item, "instance-key", where),
            revision=_int(item, "revision", where, 1) or 0,
            tracking_channel=_channel(item, "tracking-channel", where) or parse_channel("stable"),
        )
        if not ctx.revision:
            raise RequestError(f"{where}: 'revision' is required")
        context[ctx.instance_key] = ctx
    fields = payload.get("fields")
    if fields is not None:
        fields = _str_list(fields, "'fields'")
    formats = payload.get("assertion-max-formats")
    if formats is not None and (
        not isinstance(formats, dict) or not all(_is_int(v) for v in formats.values())
    ):
        raise RequestError("'assertion-max-formats' must map types to integers")
    actions = [_parse_action(item, index) for index, item in enumerate(actions_raw)]
    return RefreshRequest(context, actions, fields, formats)


def _parse_action(item: Any, index: int) -> Action:
    where = f"actions[{index}]"
    if not isinstance(item, dict):
        raise RequestError(f"{where} must be an object")
    kind = item.get("action")
    if kind not in ACTIONS:
        raise RequestError(f"{where}: unknown action {kind!r}")
    if kind == "fetch-assertions":
        refs = item.get("assertions")
        if not isinstance(refs, list):
            raise RequestError(f"{where}: 'assertions' must be a list")
        return Action(
            action=kind,
            key=_string(item, "key", where),
            assertions=[_parse_ref(ref, f"{where}.assertions[{i}]") for i, ref in enumerate(refs)],
        )
    action = Action(
        action=kind,
        instance_key=_string(item, "instance-key", where),
        channel=_channel(item, "channel", where),
        revision=_int(item, "revision", where, 1),
    )
    _string(item, "cohort-key", where, required=False)
    if kind == "refresh":
        action.snap_id = _string(item, "snap-id", where)
    else:
        action.name = _string(item, "name", where)
    return action


def _parse_ref(ref: Any, where: str) -> AssertionRef:
    if not isinstance(ref, dict):
        raise RequestError(f"{where} must be an object")
    type_ = _string(ref, "type", where)
    if "sequence-key" in ref:
        out = AssertionRef(type_, _str_list(ref["sequence-key"], f"{where}: 'sequence-key'"), True)
        out.sequence = _int(ref, "sequence", where, 1)
        out.if_sequence_at_least = _int(ref, "if-sequence-equal-or-newer-than", where, 0)
    else:
        out = AssertionRef(type_, _str_list(ref.get("primary-key"), f"{where}: 'primary-key'"))
    out.if_newer_than = _int(ref, "if-newer-than", where, 0)
    return out
