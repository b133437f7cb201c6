"""Offline mode: bundles of snaps exported from an online proxy and imported into an offline
one (docs/offline.md)."""
