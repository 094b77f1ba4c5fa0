"""``bec-file-writer --redis HOST:PORT [--service-config FILE]``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from bec_core.config import ServiceSettings
from bec_core.service import Service, run_service


def _factory(settings: ServiceSettings, _args: argparse.Namespace) -> Service:
    from bec_file_writer.server import FileWriter

    return FileWriter(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bec-file-writer``; returns the exit code."""
    return run_service(_factory, "bec-file-writer: the bec-core file writer", argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
