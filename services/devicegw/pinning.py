"""Applying the pins to the three answers that name a channel's revision, in place.

- refresh: an install, download or refresh action that asks for a channel (not for a
  revision) gets the pinned revision of that channel (the one it asked for, else the one
  the upstream answered from), whatever the upstream answered, error or no result included;
- info: each channel-map entry of a pinned channel shows the pinned revision (its version,
  download URL, SHA3-384 and size);
- find: a result whose channel is pinned shows the pinned revision.
"""

from __future__ import annotations

from typing import Any

from services.devicegw.overrides import Pins, pin_entry, pinned_snap
from shared.channels import channel_of_entry, normalize_channel

SNAP_ACTIONS = ("install", "download", "refresh")


def _pin_for(
    pins: Pins, snap: str | None, requested: str, effective: object, architecture: str
) -> Any:
    pin = pins.find(snap, requested, architecture)
    if pin is None and isinstance(effective, str) and effective:
        pin = pins.find(snap, normalize_channel(effective), architecture)
    return pin


def pin_refresh(
    answer: dict[str, Any], request: dict[str, Any], pins: Pins, architecture: str, base_url: str
) -> bool:
    """Apply the pins to a refresh answer; whether anything changed."""
    results = answer.get("results")
    if not isinstance(results, list):
        results = answer["results"] = []
    by_key = {
        r.get("instance-key"): index
        for index, r in enumerate(results)
        if isinstance(r, dict) and r.get("result") != "fetch-assertions"
    }
    context = {c.get("instance-key"): c for c in request.get("context", [])}
    changed = False
    for action in request.get("actions", []):
        kind, key = action.get("action"), action.get("instance-key")
        if kind not in SNAP_ACTIONS or action.get("revision") is not None:
            continue
        snap = action.get("snap-id") if kind == "refresh" else action.get("name")
        if not pins.has(snap):
            continue
        tracking = context.get(key, {}).get("tracking-channel") if kind == "refresh" else None
        requested = normalize_channel(action.get("channel") or tracking or "stable")
        index = by_key.get(key)
        result = results[index] if index is not None else None
        answered = (
            isinstance(result, dict)
            and result.get("result") == kind
            and isinstance(result.get("snap"), dict)
        )
        effective = result.get("effective-channel") if answered and result else None
        pin = _pin_for(pins, snap, requested, effective, architecture)
        if pin is None:
            continue
        upstream_snap = result["snap"] if answered and result else {}
        pinned = {
            "result": kind,
            "instance-key": key,
            "snap-id": pin.snap_id,
            "name": pin.snap_name,
            "effective-channel": pin.channel,
            "snap": {**upstream_snap, **pinned_snap(pin, base_url)},
        }
        if index is None:
            results.append(pinned)
        else:
            results[index] = pinned
        changed = True
    return changed


def pin_info(document: dict[str, Any], pins: Pins, base_url: str) -> bool:
    """Apply the pins to an info answer; whether anything changed."""
    snap = document.get("snap-id") if pins.has(document.get("snap-id")) else document.get("name")
    if not pins.has(snap if isinstance(snap, str) else None):
        return False
    changed = False
    for entry in document.get("channel-map") or []:
        if not isinstance(entry, dict):
            continue
        channel = entry.get("channel")
        full = channel_of_entry(channel)
        architecture = channel.get("architecture") if isinstance(channel, dict) else None
        if full is None or not isinstance(architecture, str):
            continue
        pin = pins.find(snap, full, architecture)
        if pin is not None:
            pin_entry(entry, pin, base_url)
            changed = True
    return changed


def pin_find(
    document: dict[str, Any], pins: Pins, architecture: str, channel: str | None, base_url: str
) -> bool:
    """Apply the pins to a find answer (asked with ``channel``, if any); whether anything
    changed."""
    changed = False
    for result in document.get("results") or []:
        if not isinstance(result, dict) or not isinstance(result.get("revision"), dict):
            continue
        snap = result.get("snap-id") if pins.has(result.get("snap-id")) else result.get("name")
        if not isinstance(snap, str) or not pins.has(snap):
            continue
        revision = result["revision"]
        shown = revision.get("channel")
        full = normalize_channel(shown if isinstance(shown, str) and shown else channel or "")
        pin = pins.find(snap, full, architecture)
        if pin is not None:
            pin_entry(revision, pin, base_url)
            changed = True
    return changed
