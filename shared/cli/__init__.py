"""The ``snap-proxy`` command line (``shared.cli.commands`` has every command)."""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:2] == ["serve-service"]:
        # A service process imports what serving needs, not every command's libraries
        # (cryptography alone would cost each process some 10 MiB: docs/performance.md).
        from shared.cli.run import serve_service_alone

        serve_service_alone(sys.argv[2:])
        return
    from shared.cli.commands import app

    sys.exit(app())
