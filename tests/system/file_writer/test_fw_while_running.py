"""A 2,000-point scan's file is readable by another process while the scan runs, and complete at
its end: every point in order, values equal to what the scan published."""

from __future__ import annotations

import asyncio
from pathlib import Path

import h5py
import numpy as np
from fw_harness import wait_file
from ss_harness import Recorder, request, scan_id_of, submit

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import FileMessage
from bec_core.redis_connector import AsyncRedisConnector

POINTS = 2000


def rows_on_disk(path: str) -> int:
    """Rows of bpm4i in the file, read as another process would (a fresh open, default locking)."""
    with h5py.File(path, "r") as f:
        return int(f["entry/collection/devices/bpm4i/bpm4i/value"].shape[0])


async def test_2000_points_readable_while_written(
    stack: dict, conn: AsyncRedisConnector, rec: Recorder
) -> None:
    files: list[FileMessage] = []
    await conn.register(MessageEndpoints.public_file(), lambda m: files.append(m.value))
    msg = request("line_scan", ["samx", -5, 5], steps=POINTS, exp_time=0.002, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    first = await rec.wait_for(lambda: next((f for f in files if not f.done), None), "the file being opened")
    assert first.is_master_file and not first.successful

    seen: list[int] = []
    while "closed" not in rec.statuses(scan_id):
        count = len(rec.msgs["progress"])  # before the read: progress during it counts
        if Path(first.file_path).exists():
            seen.append(await asyncio.to_thread(rows_on_disk_or_zero, first.file_path))
        # more progress, or the end (the scan's last progress may have come during the read)
        await rec.wait_for(
            lambda: len(rec.msgs["progress"]) > count or "closed" in rec.statuses(scan_id),  # noqa: B023
            "scan progress",
        )
    partial = [n for n in seen if 0 < n < POINTS]
    assert partial, f"no read during the scan saw a partly written file: {seen[:20]}..."
    assert partial == sorted(partial)  # rows only grow

    done = await wait_file(conn, scan_id)
    assert done.successful and done.file_path == first.file_path
    published = sorted(rec.segments(scan_id), key=lambda s: s.point_id)
    assert [s.point_id for s in published] == list(range(POINTS))
    with h5py.File(done.file_path, "r") as f:
        assert f["entry"].attrs["writer_status"] == "complete"
        values = f["entry/collection/devices/bpm4i/bpm4i/value"][...]
        samx = f["entry/collection/devices/samx/samx/value"][...]
        assert f["entry/collection/metadata/bec/status"][()].decode() == "closed"
        assert f["entry/collection/metadata/bec/num_monitored_readouts"][()] == POINTS
    assert values.shape == (POINTS,)
    np.testing.assert_array_equal(values, [s.data["bpm4i"]["bpm4i"]["value"] for s in published])
    np.testing.assert_array_equal(samx, [s.data["samx"]["samx"]["value"] for s in published])


def rows_on_disk_or_zero(path: str) -> int:
    """Rows so far; 0 before the first row was flushed (the dataset does not exist yet)."""
    try:
        return rows_on_disk(path)
    except KeyError:
        return 0
