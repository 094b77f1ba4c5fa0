"""The file writer SIGKILLed in the middle of a scan: the scan goes on to its end, the file on disk
is readable up to the writer's last flush point, and a restarted writer finishes it from Redis."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest

TESTS = Path(__file__).resolve().parents[1]
for _helpers in ("system/file_writer", "integration/file_writer", "integration/scan_server"):
    sys.path.insert(0, str(TESTS / _helpers))
from fw_harness import wait_file, wait_running  # noqa: E402
from fw_stack import Writer, running_stack  # noqa: E402
from ss_harness import Recorder, all_endpoints, request, scan_id_of, submit, wait_services  # noqa: E402

from bec_core.endpoints import MessageEndpoints  # noqa: E402
from bec_core.messages import FileMessage  # noqa: E402
from bec_core.redis_connector import AsyncRedisConnector  # noqa: E402

POINTS = 3000
VALUE = "entry/collection/devices/bpm4i/bpm4i/value"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict]:
    with running_stack(tmp_path) as env:
        yield env


def rows_and_status(path: str) -> tuple[int, str]:
    """What another process reads from the file now (a fresh open, as any reader does)."""
    with h5py.File(path, "r") as f:
        rows = f[VALUE].shape[0] if VALUE in f else 0
        return rows, str(f["entry"].attrs["writer_status"])


async def test_sigkill_mid_scan_then_restart(stack: dict) -> None:
    conn = await AsyncRedisConnector(stack["url"]).connect()
    try:
        await wait_services(conn, ["ScanServer", "DeviceServer", "FileWriterManager"])
        rec = await Recorder(conn).follow(**all_endpoints())
        files: list[FileMessage] = []
        await conn.register(MessageEndpoints.public_file(), lambda m: files.append(m.value))
        msg = request("line_scan", ["samx", -5, 5], steps=POINTS, exp_time=0.002, relative=False)
        assert (await submit(conn, rec, msg)).accepted
        scan_id = await scan_id_of(rec, msg.metadata["RID"])
        opened = await rec.wait_for(
            lambda: next((f for f in files if not f.done), None), "the file being opened"
        )

        # Let the writer get a good way into the scan, then kill it without warning.
        def progressed() -> bool:
            return any(p.value >= POINTS // 4 for p in rec.msgs["progress"] if not p.done)

        await rec.wait_for(progressed, "a quarter of the scan")
        stack["fw"].stop(signal.SIGKILL)
        rows, status = await asyncio.to_thread(rows_and_status, opened.file_path)
        assert status == "writing"  # not finished, and says so
        assert 0 < rows < POINTS

        # The scan does not wait for the writer: it ends on its own.
        await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "the scan's end without a writer", 120)
        assert not any(f.done for f in files)  # nobody claimed the file was done

        # A restarted writer finds the unfinished file and completes it from Redis.
        writer = Writer(stack["url"], stack["tmp"], stack["services"]).start()
        stack["fw"] = writer
        await wait_running(conn)
        done = await wait_file(conn, scan_id, timeout=60)
        assert done.successful and done.file_path == opened.file_path, writer.tail()
        published = sorted(rec.segments(scan_id), key=lambda s: s.point_id)
        with h5py.File(done.file_path, "r") as f:
            assert f["entry"].attrs["writer_status"] == "complete"
            np.testing.assert_array_equal(
                f[VALUE][...], [s.data["bpm4i"]["bpm4i"]["value"] for s in published]
            )
            assert f["entry/collection/metadata/bec/status"][()].decode() == "closed"
    finally:
        await conn.close()
