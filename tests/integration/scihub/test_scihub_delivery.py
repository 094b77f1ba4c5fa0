"""Logbook delivery against a real Redis: a failing sink is retried, a hopeless entry is given up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import bec_scihub.logbook as logbook
import pytest
from bec_scihub.logbook import GROUP, LogbookDelivery
from bec_scihub.sinks import FileSink, LogbookRecord, SinkContext
from waiting import until

from bec_core.config import LogbookSettings
from bec_core.endpoints import MessageEndpoints
from bec_core.messages import MessagingServiceMessage, MessagingServiceTextContent
from bec_core.redis_connector import AsyncRedisConnector


class FlakySink:
    """Fails twice on "flaky", always on "poison", takes everything else."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.taken: list[str] = []

    async def deliver(self, record: LogbookRecord) -> None:
        text = record.text[0]
        self.calls[text] = self.calls.get(text, 0) + 1
        if text == "poison" or (text == "flaky" and self.calls[text] <= 2):
            raise OSError(f"logbook server said no to {text}")
        self.taken.append(text)

    async def close(self) -> None:
        pass


async def test_failing_sink_retried_then_given_up_and_the_queue_goes_on(
    clean_redis: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(logbook, "RETRY_DELAY_S", 0.0)
    conn = await AsyncRedisConnector(clean_redis).connect()
    flaky = FlakySink()
    file_sink = FileSink(SinkContext(LogbookSettings(), tmp_path, conn))
    delivery = LogbookDelivery(conn, [flaky, file_sink])
    queue = MessageEndpoints.message_service_queue()
    for text in ("flaky", "poison", "fine"):
        msg = MessagingServiceMessage(
            service_name="scilog", message=[MessagingServiceTextContent(content=text)]
        )
        await conn.xadd(queue, {"data": msg})
    task = asyncio.create_task(delivery.run())
    try:
        assert await until(lambda: _done(delivery), 10.0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert flaky.calls == {"flaky": 3, "poison": 3, "fine": 1}
    assert flaky.taken == ["flaky", "fine"]
    assert (delivery.delivered, delivery.lost) == (2, 1)
    # the file sink took "poison" once and was not asked again (only the failing sink is retried)
    lines = file_sink.path.read_text().splitlines()
    assert len(lines) == 3
    assert "not delivered to FlakySink: poison" in caplog.text
    pending = await conn.redis.xpending(queue.endpoint, GROUP)
    assert pending["pending"] == 0
    await conn.close()


async def _done(delivery: LogbookDelivery) -> bool:
    return delivery.delivered + delivery.lost == 3
