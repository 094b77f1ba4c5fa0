"""A relative scan whose motor cannot get back raises an alarm naming it (real Redis)."""

from __future__ import annotations

import asyncio
from typing import Any

from bec_scan_server.returns import return_to_start
from bec_scan_server.scans import SCANS
from bec_scan_server.validation import build

from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector


class _Mover:
    """A scan context whose moves fail or never finish (what a stuck motor looks like)."""

    def __init__(self, behaviour: str) -> None:
        self.positions = {"samx": 3.0, "samy": -2.0}
        self.behaviour = behaviour
        self.requested: list[dict[str, float]] = []

    async def set(self, values: dict[str, float], wait: bool = True, response: bool = False) -> Any:
        self.requested.append(dict(values))
        if self.behaviour == "hang":
            await asyncio.Event().wait()
        raise RuntimeError("samx: motor stalled")


def _scan(relative: bool) -> Any:
    return build(
        SCANS["line_scan"],
        {"args": ["samx", -1, 1, "samy", 0, 1], "kwargs": {"steps": 3, "relative": relative}},
    )


async def _alarm(conn: AsyncRedisConnector) -> Any:
    return await conn.get(MessageEndpoints.alarm())


async def test_failed_return_raises_an_alarm_naming_the_motors(clean_redis):
    conn = await AsyncRedisConnector(clean_redis).connect()
    try:
        mover = _Mover("fail")
        ok = await return_to_start(conn, mover, _scan(True), 5.0, {"scan_id": "s1"})
        assert ok is False and mover.requested == [{"samx": 3.0, "samy": -2.0}]
        alarm = await _alarm(conn)
        assert alarm.severity == 2 and alarm.info.exception_type == "ReturnToStartError"
        assert alarm.info.device == ["samx", "samy"] and "motor stalled" in alarm.info.error_message
        assert "samx (start 3)" in alarm.info.compact_error_message and alarm.metadata["scan_id"] == "s1"
    finally:
        await conn.close()


async def test_return_is_bounded_by_its_deadline(clean_redis):
    conn = await AsyncRedisConnector(clean_redis).connect()
    try:
        ok = await return_to_start(conn, _Mover("hang"), _scan(True), 0.2, {"scan_id": "s2"})
        assert ok is False
        alarm = await _alarm(conn)
        assert "did not arrive within 0.2 s" in alarm.info.error_message
    finally:
        await conn.close()


async def test_absolute_scans_do_not_return(clean_redis):
    conn = await AsyncRedisConnector(clean_redis).connect()
    try:
        mover = _Mover("fail")
        assert await return_to_start(conn, mover, _scan(False), 5.0, {}) is True
        assert mover.requested == [] and await _alarm(conn) is None
    finally:
        await conn.close()
