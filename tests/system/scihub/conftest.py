"""Fixtures for the bec-scihub system tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scihub_harness import SciHubProcess, settings_file


@pytest.fixture
def start_scihub(tmp_path: Path) -> Iterator[Callable[..., SciHubProcess]]:
    """``start_scihub(url, env=..., **scihub_settings)``: a running ``bec-scihub``; stopped afterwards."""
    started: list[SciHubProcess] = []

    def start(url: str, env: dict[str, str] | None = None, **scihub: Any) -> SciHubProcess:
        n = len(started)
        config = settings_file(tmp_path / f"services-{n}.yaml", **scihub)
        proc = SciHubProcess(url, tmp_path / f"state-{n}", config, env or {})
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
