"""A stack that is not running: clear one-line errors that say how to start it, no hang."""

from __future__ import annotations

import pytest

from bec_core.client import BECClient, ServerNotRunningError
from bec_core.redis_server import free_port


def test_no_redis() -> None:
    with pytest.raises(ServerNotRunningError, match="bec-server start") as info:
        BECClient(f"127.0.0.1:{free_port()}").start()
    assert "\n" not in str(info.value)


def test_redis_without_servers(clean_redis: str) -> None:
    with pytest.raises(
        ServerNotRunningError, match=r"ScanServer, DeviceServer are not running.*bec-server start"
    ):
        BECClient(clean_redis, server_timeout=0.5).start()


def test_client_without_waiting(clean_redis: str) -> None:
    with BECClient(clean_redis, wait_for_server=False) as bec:
        assert bec.dev.names() == [] and bec.scans.names() == []
        assert bec.next_scan_number is None
