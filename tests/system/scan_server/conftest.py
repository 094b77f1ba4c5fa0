"""System-test fixtures: stock bec_lib (or a skip), and the scan-server test helpers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# the process helpers live next to the integration tests
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integration" / "scan_server"))


@pytest.fixture(scope="module")
def bec_lib_modules():
    """Stock bec_lib's connector, endpoints and messages; skip without it (fail on CI)."""
    try:
        from bec_lib import messages
        from bec_lib.device import DeviceBase
        from bec_lib.endpoints import MessageEndpoints
        from bec_lib.redis_connector import RedisConnector
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"stock bec_lib is required on CI: {exc}")
        pytest.skip(f"stock bec_lib not importable: {exc}")
    return RedisConnector, MessageEndpoints, messages, DeviceBase
