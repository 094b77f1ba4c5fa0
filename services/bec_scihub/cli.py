"""``bec-scihub --redis HOST:PORT [--service-config FILE] [--state-dir DIR]``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bec_core.config import ServiceSettings
from bec_core.service import run_service

if TYPE_CHECKING:
    from bec_scihub.server import SciHub


def _factory(settings: ServiceSettings, _args: argparse.Namespace) -> SciHub:
    from bec_scihub.server import SciHub

    return SciHub(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bec-scihub``; returns the exit code."""
    return run_service(_factory, "bec-scihub: the bec-core SciHub", argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
