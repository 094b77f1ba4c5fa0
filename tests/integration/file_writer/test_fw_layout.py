"""Our file has the structure of stock BEC 4.3.2's file for the same scan (recorded stock messages
replayed into a real Redis, our writer as a process)."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest
from fw_harness import (
    Writer,
    describe,
    differences,
    normalized,
    replay,
    stock_inputs,
    stock_layouts,
    wait_file,
)

from bec_core.redis_connector import AsyncRedisConnector


@pytest.mark.parametrize("scan", ["line_scan", "grid_scan"])
async def test_layout_equals_stock(
    scan: str, conn: AsyncRedisConnector, writer: Writer, tmp_path: Path
) -> None:
    scan_id = stock_inputs()["scans"][scan]
    await replay(conn, tmp_path / "data", scan_id)
    msg = await wait_file(conn, scan_id)
    assert msg.successful, writer.tail()
    assert Path(msg.file_path).parent == tmp_path / "data"
    ours = normalized(describe(msg.file_path))
    stock = normalized(stock_layouts()[scan]["layout"])
    diff = differences(ours, stock)
    assert not diff, "\n".join(diff)
    with h5py.File(msg.file_path, "r") as f:
        assert f["entry"].attrs["writer_status"] == "complete"
