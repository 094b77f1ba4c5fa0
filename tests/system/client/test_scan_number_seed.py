"""Issue 16, item 14: the seed's scan-number snippet, read with bec_core and with stock bec_lib 4.3."""

from __future__ import annotations

from pathlib import Path

import pytest
from stack import Stack

pytestmark = [pytest.mark.system, pytest.mark.interop]
SNIPPET = "msg = connector.get(MessageEndpoints.scan_number())\ncurrent_scan_number = msg.content['value']\n"


def run_snippet(address: str) -> object:
    """The README's snippet as written (with our connector)."""
    from bec_core.endpoints import MessageEndpoints
    from bec_core.redis_connector import RedisConnector

    connector = RedisConnector(address)
    namespace = {"connector": connector, "MessageEndpoints": MessageEndpoints}
    try:
        exec(SNIPPET, namespace)
    finally:
        connector.shutdown()
    return namespace["current_scan_number"]


def stock_scan_number(address: str) -> int:
    """What a stock bec_lib 4.3 client reads (its ScanNumberContainer)."""
    from bec_lib.redis_connector import RedisConnector as StockConnector
    from bec_lib.scan_number_container import ScanNumberContainer

    connector = StockConnector(address)
    try:
        return ScanNumberContainer(connector).scan_number
    finally:
        connector.shutdown()


def test_without_an_account_value_is_the_plain_number(stack: Stack, bec) -> None:
    pytest.importorskip("bec_lib")
    report = bec.scans.line_scan(bec.dev.samx, 0, 1, steps=2, relative=False)
    report.wait()
    number = report.scan.scan_number
    value = run_snippet(stack.address)
    assert value == number and type(value) is int  # was {'': n}
    assert stock_scan_number(stack.address) == number


def test_with_an_account_value_is_per_account_and_stock_reads_it(tmp_path: Path) -> None:
    pytest.importorskip("bec_lib")
    from bec_lib import messages as stock_messages
    from bec_lib.endpoints import MessageEndpoints as StockEndpoints
    from bec_lib.redis_connector import RedisConnector as StockConnector

    def set_account(address: str) -> None:
        connector = StockConnector(address)
        try:
            connector.xadd(StockEndpoints.account(), {"data": stock_messages.VariableMessage(value="p12345")})
        finally:
            connector.shutdown()

    own = Stack(tmp_path).start(before_services=set_account)
    try:
        from bec_core.client import BECClient

        with BECClient(own.address, server_timeout=30) as bec:
            report = bec.scans.line_scan(bec.dev.samx, 0, 1, steps=2, relative=False)
            report.wait()
            number = report.scan.scan_number
        assert run_snippet(own.address) == {"p12345": number}  # BEC 4.3.2's per-account form
        assert stock_scan_number(own.address) == number
    finally:
        own.stop()
