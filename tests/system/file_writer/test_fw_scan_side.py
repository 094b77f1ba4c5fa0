"""The scan server tells clients and writers where a scan's files go (stock's ``file_components``),
and stock bec_lib's ``get_full_path`` finds the master file the writer wrote there."""

from __future__ import annotations

from pathlib import Path

import pytest
from fw_harness import wait_file
from ss_harness import Recorder, request, scan_id_of, submit

from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector


async def test_status_carries_stock_file_components(
    stack: dict, conn: AsyncRedisConnector, rec: Recorder
) -> None:
    msg = request("line_scan", ["samx", -1, 1], steps=5, exp_time=0.0, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "the scan's end")
    status = next(m for m in rec.msgs["scan_status"] if m.scan_id == scan_id)
    number = status.scan_number
    expected = stack["tmp"] / "data" / f"S00000-00999/S{number:05d}/S{number:05d}"
    assert tuple(status.info["file_components"]) == (str(expected), "h5")
    file_msg = await wait_file(conn, scan_id)
    assert file_msg.file_path == f"{expected}_master.h5"
    assert Path(file_msg.file_path).is_file()

    # stock bec_lib decodes our bytes and computes the same path (what its devices and writer do)
    file_utils = pytest.importorskip("bec_lib.file_utils")
    from bec_lib.serialization import MsgpackSerialization

    raw = await conn.redis.get(MessageEndpoints.public_scan_info(scan_id).endpoint)
    stock_status = MsgpackSerialization.loads(raw)
    path = file_utils.get_full_path(stock_status, "master", create_dir=False)
    assert path == file_msg.file_path
