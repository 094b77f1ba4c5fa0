"""Our file has the structure of stock BEC 4.3.2's file for the same scan (recorded stock messages
replayed into a real Redis, our writer as a process)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import h5py
import numpy as np
import pytest
from fw_harness import (
    DEADLINE,
    Writer,
    add_streams,
    describe,
    differences,
    normalized,
    replay,
    stock_inputs,
    stock_layouts,
    wait_file,
)
from waiting import POLL_S

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceMessage, FileMessage
from bec_core.redis_connector import AsyncRedisConnector


@pytest.mark.parametrize("scan", ["line_scan", "grid_scan", "async_slice", "async_add"])
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


async def test_device_files_become_external_links(
    conn: AsyncRedisConnector, writer: Writer, tmp_path: Path
) -> None:
    scan_id = stock_inputs()["scans"]["line_scan"]
    detector = tmp_path / "data" / "S00001_eiger.h5"
    detector.parent.mkdir(parents=True)
    with h5py.File(detector, "w") as f:
        f.create_dataset("entry/data/data", data=np.arange(12).reshape(3, 4))
    hinted = FileMessage(
        file_path=str(detector),
        done=True,
        successful=True,
        device_name="eiger",
        hinted_h5_entries={"frames": "entry/data/data"},
    )
    plain = FileMessage(file_path=str(detector), done=True, successful=True, device_name="cam")
    missing = FileMessage(file_path=str(tmp_path / "nowhere.h5"), done=True, successful=True)
    for name, msg in (("eiger", hinted), ("cam", plain), ("ghost", missing)):
        await conn.set_and_publish(MessageEndpoints.public_file(scan_id, name), msg)
    await replay(conn, tmp_path / "data", scan_id)
    done = await wait_file(conn, scan_id)
    with h5py.File(done.file_path, "r") as f:
        refs = f["entry/collection/file_references"]
        link = refs["eiger"].get("frames", getlink=True)
        assert isinstance(link, h5py.ExternalLink)
        assert (link.filename, link.path) == ("S00001_eiger.h5", "entry/data/data")  # relative to the master
        np.testing.assert_array_equal(refs["eiger/frames"][...], np.arange(12).reshape(3, 4))
        assert refs["cam"].get("data", getlink=True).path == "/"
        assert "ghost" not in refs  # a file that does not exist is not linked (as stock)


async def test_configuration_is_the_one_at_the_scans_end(
    conn: AsyncRedisConnector, writer: Writer, tmp_path: Path
) -> None:
    """As stock: a configuration reading that changes while the scan runs is in the file with its
    new value; a device disabled meanwhile has no configuration in the file."""
    scan_id = stock_inputs()["scans"]["line_scan"]
    config_ep = MessageEndpoints.device_config()

    async def change_while_running() -> None:
        changed = DeviceMessage(signals={"samx_velocity": {"value": 7.5, "timestamp": 1.0}})
        await conn.set_and_publish(MessageEndpoints.device_read_configuration("samx"), changed)
        stored = await conn.get(config_ep)
        resource = [dict(d, enabled=False) if d["name"] == "samz" else d for d in stored.resource]
        await conn.set(config_ep, stored.model_copy(update={"resource": resource}))

    await replay(conn, tmp_path / "data", scan_id, on_open=change_while_running)
    msg = await wait_file(conn, scan_id)
    assert msg.successful, writer.tail()
    with h5py.File(msg.file_path, "r") as f:
        config = f["entry/collection/configuration"]
        assert config["samx/samx_velocity/value"][()] == 7.5
        assert "samx_acceleration" not in config["samx"]  # the reading at the end replaces the old one
        assert "samz" not in config and "samy" in config


async def test_async_data_is_in_the_file_while_the_scan_runs(
    conn: AsyncRedisConnector, writer: Writer, tmp_path: Path
) -> None:
    """Async data that arrives while the scan runs reaches the file at a flush point, before the
    scan's end (another process reads it); the end then completes the file."""
    scan_id = stock_inputs()["scans"]["async_slice"]

    async def while_running() -> None:
        await add_streams(conn, scan_id)
        path = next(iter((tmp_path / "data").glob("*_master.h5")), None)
        async with asyncio.timeout(DEADLINE):
            while not await asyncio.to_thread(_async_rows, path):
                await asyncio.sleep(POLL_S)
                path = path or next(iter((tmp_path / "data").glob("*_master.h5")), None)

    await replay(conn, tmp_path / "data", scan_id, on_open=while_running, streams=False)
    msg = await wait_file(conn, scan_id)
    assert msg.successful, writer.tail()
    with h5py.File(msg.file_path, "r") as f:
        np.testing.assert_array_equal(f[WAVEFORM][...], np.full((10, 10), 100))


WAVEFORM = "entry/collection/devices/waveform/waveform_data/value"


def _async_rows(path: Path | None) -> bool:
    """True once the file at ``path`` holds all ten rows of the waveform (read as another process would)."""
    if path is None or not path.exists():
        return False
    try:
        with h5py.File(path, "r") as f:
            ds = f.get(WAVEFORM)
            return ds is not None and ds.shape == (10, 10)
    except OSError:  # opened at the moment of a flush: read again (decision 0005)
        return False
