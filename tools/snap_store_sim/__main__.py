"""``python -m tools.snap_store_sim`` == ``snap-store-sim``."""

from .cli import main

main()
