"""Async devices in a real scan (device server, scan server, file writer as processes): their data
reaches the file, in stock's layout, written while the scan runs and read to the end after it."""

from __future__ import annotations

from collections.abc import Iterator

import h5py
import numpy as np
import pytest
from fw_harness import wait_file
from fw_stack import running_stack
from ss_harness import Recorder, request, scan_id_of, submit

from bec_core.redis_connector import AsyncRedisConnector

ASYNC_DEVICES = """
waveform:
  deviceClass: ophyd_devices.SimWaveform
  deviceConfig: {waveform_shape: 10, sim_init: {model: ConstantModel, params: {c: 100, noise: none}}}
  readoutPriority: async
  enabled: true
  softwareTrigger: true
monitor_async:
  deviceClass: ophyd_devices.sim.sim_monitor.SimMonitorAsync
  deviceConfig: {}
  readoutPriority: async
  enabled: true
  softwareTrigger: true
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The file-writer stack with two async devices."""
    with running_stack(tmp_path_factory.mktemp("fw-async"), devices=ASYNC_DEVICES) as env:
        yield env
    assert env.get("fw_code", 0) == 0, (env["tmp"] / "fw.log").read_text()[-3000:]


async def test_async_devices_written(stack: dict, conn: AsyncRedisConnector, rec: Recorder) -> None:
    msg = request("line_scan", ["samx", 0, 1], steps=10, exp_time=0.0, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    done = await wait_file(conn, scan_id)
    assert done.successful, (stack["tmp"] / "fw.log").read_text()[-3000:]
    with h5py.File(done.file_path, "r") as f:
        devices = f["entry/collection/devices"]
        # SimWaveform, 'add' with max_shape [None]: ten readings of ten values, one flat dataset
        wf = devices["waveform/waveform_data"]
        assert dict(wf.attrs) == {"NX_class": "NXdata", "signal": "value"}
        np.testing.assert_array_equal(wf["value"][...], np.full(100, 100))
        assert wf["timestamp"].shape == (10,)
        assert devices["waveform/waveform_waveform_0d/value"].shape == (10,)
        # AsyncMultiSignal sub-signals (values only, as the device sends them)
        assert devices["waveform/waveform_async_multi_data_data1/value"].shape == (100,)
        # SimMonitorAsync sends its buffer at random intervals and the rest at complete():
        # every one of the ten readings is in the file
        assert devices["monitor_async/monitor_async_data/value"].shape == (10,)
        assert devices["monitor_async/monitor_async_data/timestamp"].shape == (10,)
        async_group = f["entry/collection/readout_groups/async"]
        assert set(async_group) == {"waveform", "monitor_async"}
        assert "waveform_data" in async_group["waveform"]  # the soft link resolves
