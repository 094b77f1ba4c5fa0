"""``bec-dap --redis HOST:PORT [--service-config FILE]``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bec_core.config import ServiceSettings
from bec_core.service import run_service

if TYPE_CHECKING:  # the server (and lmfit) load only when the service is built
    from bec_dap.server import DAPServer


def _factory(settings: ServiceSettings, _args: argparse.Namespace) -> DAPServer:
    from bec_dap.server import DAPServer

    return DAPServer(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bec-dap``; returns the exit code."""
    return run_service(_factory, "bec-dap: the bec-core data processing (fitting) service", argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
