"""Channel names: parsing, and the Store's risk fall-through."""

from __future__ import annotations

from dataclasses import dataclass

RISKS: tuple[str, ...] = ("stable", "candidate", "beta", "edge")
DEFAULT_TRACK = "latest"


class ChannelError(ValueError):
    """A channel string that cannot be parsed."""


@dataclass(frozen=True)
class Channel:
    track: str
    risk: str
    branch: str = ""

    @property
    def full(self) -> str:
        """``track/risk[/branch]``, always with the track."""
        base = f"{self.track}/{self.risk}"
        return f"{base}/{self.branch}" if self.branch else base

    @property
    def short(self) -> str:
        """The name the Store uses in channel-map entries (``stable``, ``2.0/beta``)."""
        name = self.risk if self.track == DEFAULT_TRACK else f"{self.track}/{self.risk}"
        return f"{name}/{self.branch}" if self.branch else name

    def fall_through(self) -> list[Channel]:
        """This channel, then the more stable risks of the same track (closed channels)."""
        if self.branch:
            return [self, *Channel(self.track, self.risk).fall_through()]
        index = RISKS.index(self.risk)
        return [Channel(self.track, risk) for risk in reversed(RISKS[: index + 1])]


def parse_channel(text: str) -> Channel:
    """Parse like snapd's channel.Parse: ``stable``, ``2.0``, ``latest/edge``, ``2.0/beta/x``."""
    if not isinstance(text, str) or not text or text != text.strip():
        raise ChannelError(f"invalid channel {text!r}")
    parts = text.split("/")
    if any(not part for part in parts) or len(parts) > 3:
        raise ChannelError(f"invalid channel {text!r}")
    if len(parts) == 1:
        if parts[0] in RISKS:
            return Channel(DEFAULT_TRACK, parts[0])
        return Channel(parts[0], "stable")
    if len(parts) == 2:
        if parts[1] in RISKS:
            return Channel(parts[0], parts[1])
        if parts[0] in RISKS:
            return Channel(DEFAULT_TRACK, parts[0], parts[1])
        raise ChannelError(f"invalid risk in channel {text!r}")
    if parts[1] not in RISKS:
        raise ChannelError(f"invalid risk in channel {text!r}")
    return Channel(parts[0], parts[1], parts[2])
