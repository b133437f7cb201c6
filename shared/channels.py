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
