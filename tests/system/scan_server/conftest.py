"""System-test fixtures: stock bec_lib (or a skip), and the scan-server test helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from stock_follower import stock_modules

# the process helpers live next to the integration tests
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integration" / "scan_server"))


@pytest.fixture(scope="module")
def bec_lib_modules():
    """Stock bec_lib's connector, endpoints and messages; skip without it (fail on CI)."""
    messages, device, endpoints, redis_connector = stock_modules(
        "messages", "device", "endpoints", "redis_connector"
    )
    return redis_connector.RedisConnector, endpoints.MessageEndpoints, messages, device.DeviceBase
