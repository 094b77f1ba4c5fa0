"""``bec-scan-server --redis HOST:PORT [--service-config FILE]``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from bec_core.config import ServiceSettings
from bec_core.service import run_service


def _factory(settings: ServiceSettings, _args: argparse.Namespace) -> ScanServer:  # noqa: F821
    from bec_scan_server.server import ScanServer

    return ScanServer(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bec-scan-server``; returns the exit code."""
    return run_service(_factory, "bec-scan-server: the bec-core scan server", argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
