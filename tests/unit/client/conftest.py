"""Fixtures for the client's unit tests: ``available_scans`` entries as the real scan server publishes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bec_core.client.devices import DeviceContainer


@pytest.fixture(scope="session")
def available_scans() -> dict[str, dict[str, Any]]:
    """Entries captured from ``info/scans/available_scans`` of bec-scan-server."""
    return json.loads((Path(__file__).parent / "available_scans.json").read_text())


class FakeDevice:
    """Stands in for a device proxy: what validation needs is the name attribute."""

    def __init__(self, name: str) -> None:
        self._bec_device_name = name
        self.name = name

    def __repr__(self) -> str:
        return f"dev.{self.name}"


@pytest.fixture
def devices() -> DeviceContainer:
    """A container with samx, samy, bpm4i (no client behind them)."""
    return DeviceContainer({n: FakeDevice(n) for n in ("samx", "samy", "bpm4i")})  # type: ignore[misc]
