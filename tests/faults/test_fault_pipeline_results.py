"""Defect 8 of issue 11: the spurious "undecodable message on pipeline ... extra data" warning.

Not a codec bug: ``execute_pipeline`` tried to decode every bytes result of a
pipeline as a BEC message, also the id an ``XADD`` returns (``b"1764-0"``
reads as the msgpack integer 49 followed by extra data). Only results that
hold a BEC message are decoded now; others come back as they are.
"""

from __future__ import annotations

import logging

import pytest

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import VariableMessage
from bec_core.redis_connector import AsyncRedisConnector


async def test_stream_ids_in_pipeline_results_are_not_decoded(
    clean_redis: str, caplog: pytest.LogCaptureFixture
):
    conn = await AsyncRedisConnector(clean_redis).connect()
    try:
        pipe = conn.pipeline()
        await conn.set(MessageEndpoints.scan_number(), VariableMessage(value={"": 3}), pipe=pipe)
        pipe.xadd("test/stream", {"data": b"x"})  # as queue_alarm and req_status writes do
        pipe.get(MessageEndpoints.scan_number().endpoint)
        with caplog.at_level(logging.WARNING):
            results = await conn.execute_pipeline(pipe)
        assert not [r for r in caplog.records if "undecodable" in r.getMessage()]
        assert conn.stats.decode_errors == 0
        assert isinstance(results[1], bytes) and b"-" in results[1]  # the entry id, untouched
        assert results[-1] == VariableMessage(value={"": 3})  # a stored message is still decoded
    finally:
        await conn.close()
