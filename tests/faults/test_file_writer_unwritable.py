"""An unwritable base path: the writer raises an alarm naming the path, publishes the file as done
but not successful (so ``wait(file_written=True)`` returns), and the scan goes on to its end."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
for _helpers in ("system/file_writer", "integration/file_writer", "integration/scan_server"):
    sys.path.insert(0, str(TESTS / _helpers))
from fw_harness import wait_file  # noqa: E402
from fw_stack import running_stack  # noqa: E402
from ss_harness import Recorder, all_endpoints, request, scan_id_of, submit, wait_services  # noqa: E402

from bec_core.client import BECClient  # noqa: E402
from bec_core.endpoints import MessageEndpoints  # noqa: E402
from bec_core.messages import AlarmMessage  # noqa: E402
from bec_core.redis_connector import AsyncRedisConnector  # noqa: E402


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict]:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be\n")
    with running_stack(tmp_path, base_path=blocker / "data") as env:
        env["base"] = blocker / "data"
        yield env
    assert env["fw_code"] == 0  # the writer kept running and stopped cleanly


async def test_unwritable_base_path_alarms_and_the_scan_goes_on(stack: dict) -> None:
    conn = await AsyncRedisConnector(stack["url"]).connect()
    try:
        await wait_services(conn, ["ScanServer", "DeviceServer", "FileWriterManager"])
        rec = await Recorder(conn).follow(**all_endpoints())
        msg = request("line_scan", ["samx", -1, 1], steps=5, exp_time=0, relative=False)
        assert (await submit(conn, rec, msg)).accepted
        scan_id = await scan_id_of(rec, msg.metadata["RID"])
        await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "the scan's end")
        assert len(rec.segments(scan_id)) == 5

        file_msg = await wait_file(conn, scan_id)
        assert not file_msg.successful
        assert file_msg.file_path.startswith(str(stack["base"]))
        alarms = await rec.wait_for(
            lambda: [
                a
                for a in rec.msgs["alarm"]
                if isinstance(a, AlarmMessage) and file_msg.file_path in a.info.error_message
            ],
            "an alarm naming the file",
        )
        assert alarms[0].metadata["scan_id"] == scan_id
        assert "cannot" in alarms[0].info.compact_error_message

        # the writer is still there for the next scan, and a client waiting for the file returns
        heartbeat = await conn.get(MessageEndpoints.service_status("FileWriterManager"))
        assert heartbeat is not None and heartbeat.status.name == "RUNNING"
    finally:
        await conn.close()


def test_client_wait_for_file_returns_on_a_failed_file(stack: dict) -> None:
    bec = BECClient(stack["url"], server_timeout=30).start()
    try:
        report = bec.scans.line_scan(bec.dev.samx, -1, 1, steps=3, exp_time=0, relative=False)
        report.wait(timeout=60, file_written=True)
        assert report.file.done and not report.file.successful
    finally:
        bec.shutdown()
