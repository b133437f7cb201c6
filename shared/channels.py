"""Channel names as snapd and the Store write them: ``[track/]risk[/branch]``."""

from __future__ import annotations

RISKS = ("stable", "candidate", "beta", "edge")


def normalize_channel(channel: str) -> str:
    """``stable`` -> ``latest/stable``; ``2.0`` -> ``2.0/stable``; others unchanged."""
    parts = [part for part in channel.strip().split("/") if part]
    if not parts:
        return "latest/stable"
    if len(parts) == 1:
        return f"latest/{parts[0]}" if parts[0] in RISKS else f"{parts[0]}/stable"
    if len(parts) == 2 and parts[0] in RISKS:
        return f"latest/{parts[0]}/{parts[1]}"  # risk/branch
    return "/".join(parts)


class ChannelError(ValueError):
    """A channel name snapd would refuse."""


_PART_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_+")
MAX_CHANNEL_LENGTH = 128


def parse_channel(text: str) -> str:
    """The full name (``track/risk[/branch]``) of a channel written as snapd's
    ``channel.Parse`` accepts it: ``stable``, ``2.0``, ``latest/edge``, ``beta/hotfix``,
    ``2.0/beta/hotfix``; ChannelError for anything else (empty parts, an unknown risk, more
    than three parts, characters outside letters, digits and ``.-_+``)."""
    if not text or len(text) > MAX_CHANNEL_LENGTH:
        raise ChannelError(f"invalid channel {text!r}: 1 to {MAX_CHANNEL_LENGTH} characters")
    parts = text.split("/")
    if len(parts) > 3 or any(not part or not set(part) <= _PART_CHARS for part in parts):
        raise ChannelError(f"invalid channel {text!r}: expected [track/]risk[/branch]")
    if len(parts) == 1:
        return f"latest/{parts[0]}" if parts[0] in RISKS else f"{parts[0]}/stable"
    if len(parts) == 2:
        if parts[1] in RISKS:
            return f"{parts[0]}/{parts[1]}"
        if parts[0] in RISKS:
            return f"latest/{parts[0]}/{parts[1]}"
        raise ChannelError(f"invalid channel {text!r}: no risk ({', '.join(RISKS)})")
    if parts[1] not in RISKS:
        raise ChannelError(f"invalid channel {text!r}: {parts[1]!r} is not a risk")
    return text


def short_channel(full: str) -> str:
    """The Store's short name of a full channel name: ``latest/stable`` -> ``stable``."""
    return full.removeprefix("latest/")


def channel_of_entry(channel: object) -> str | None:
    """The full name of a channel-map entry's ``channel`` object (``track``, ``risk``, and a
    ``name`` that also carries the branch: ``stable/hotfix``, ``2.0/stable/hotfix``)."""
    if not isinstance(channel, dict):
        return None
    name, track, risk = channel.get("name"), channel.get("track"), channel.get("risk")
    try:
        if isinstance(track, str) and isinstance(name, str) and "/" in name:
            return parse_channel(name if name.startswith(f"{track}/") else f"{track}/{name}")
        if isinstance(track, str) and isinstance(risk, str):
            return parse_channel(f"{track}/{risk}")
    except ChannelError:
        return None
    return None


def fall_through(full: str) -> list[str]:
    """``full`` (a full channel name), then where a device on it goes when it is closed: a
    branch to its risk, then the track's more stable risks (``2.0/beta/x``: ``2.0/beta/x``,
    ``2.0/beta``, ``2.0/candidate``, ``2.0/stable``)."""
    track, risk, *branch = full.split("/")
    if risk not in RISKS:
        return [full]
    more_stable = [f"{track}/{r}" for r in reversed(RISKS[: RISKS.index(risk) + 1])]
    return [full, *more_stable] if branch else more_stable
