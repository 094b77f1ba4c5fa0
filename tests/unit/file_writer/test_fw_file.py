"""The file writer's HDF5 side without Redis: rows at flush points, the end-of-scan layout, marks."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from bec_file_writer.errors import FileWriteError
from bec_file_writer.h5tree import update_mapping, write_mapping
from bec_file_writer.layout import ScanSummary, scan_cli_input
from bec_file_writer.scan_file import ScanFile

VALUE = "entry/collection/devices/mon/mon/value"


def point(i: int, **extra) -> dict:
    now = time.time()
    return {"mon": {"mon": {"value": float(i), "timestamp": now}}, **extra}


def summary(status: str = "closed") -> ScanSummary:
    info = {
        "scan_id": "s1",
        "scan_name": "line_scan",
        "status": status,
        "readout_priority": {"monitored": ["mon"], "baseline": ["motor"], "async": []},
        "scan_report_devices": ["mon"],
    }
    return ScanSummary("s1", info, time.time() - 1, time.time(), {"motor": {"motor_velocity": {"value": 3}}})


def test_rows_reach_the_file_at_flush_points(tmp_path: Path) -> None:
    f = ScanFile(str(tmp_path / "a" / "S1_master.h5"))
    f.open(summary("open"))
    f.append([point(i) for i in range(5)])
    # (in the writer's own process a second handle must match its locking=False; other processes
    # open it with the default, see tests/system/file_writer/test_fw_while_running.py)
    with h5py.File(f.path, "r", locking=False) as reader:  # before the flush point: not there yet
        assert reader[VALUE].shape == (0,)
    f.flush()
    with h5py.File(f.path, "r", locking=False) as reader:  # another handle sees the flushed rows
        np.testing.assert_array_equal(reader[VALUE][...], [0, 1, 2, 3, 4])
        assert reader["entry"].attrs["writer_status"] == "writing"
    f.append([point(5)])
    f.finish(summary(), complete=True)
    with h5py.File(f.path, "r") as reader:
        assert reader[VALUE].shape == (6,)
        assert reader["entry"].attrs["writer_status"] == "complete"
        assert reader["entry/collection/metadata/bec/status"][()] == b"closed"
        assert reader["entry/collection/configuration/motor/motor_velocity/value"][()] == 3
        assert reader["entry/collection/devices/mon/mon"].attrs["NX_class"] == "NXdata"
        assert reader["entry/data"].attrs["signal"] == "mon"


def test_incomplete_file_is_marked(tmp_path: Path) -> None:
    f = ScanFile(str(tmp_path / "S2_master.h5"))
    f.open(summary("open"))
    f.append([point(0)])
    f.finish(summary("aborted"), complete=False)
    with h5py.File(f.path, "r") as reader:
        assert reader["entry"].attrs["writer_status"] == "incomplete"
        assert reader["entry/collection/metadata/bec/status"][()] == b"aborted"


def test_reading_of_another_shape_is_left_out_and_named(tmp_path: Path, caplog) -> None:
    f = ScanFile(str(tmp_path / "S3_master.h5"))
    f.open()
    f.append([point(0), {"mon": {"mon": {"value": [1.0, 2.0]}}}, point(2)])
    with caplog.at_level(logging.ERROR):
        f.flush()
    assert "does not fit" in caplog.text and "/mon/mon/value" in caplog.text
    f.close()
    with h5py.File(f.path, "r") as reader:
        np.testing.assert_array_equal(reader[VALUE][...], [0, 2])


def test_text_and_array_readings(tmp_path: Path) -> None:
    f = ScanFile(str(tmp_path / "S4_master.h5"))
    f.open()
    f.append(
        [
            {"cam": {"cam_image": {"value": np.full((3, 2), i)}, "cam_state": {"value": f"s{i}"}}}
            for i in range(4)
        ]
    )
    f.flush()
    f.close()
    with h5py.File(f.path, "r") as reader:
        assert reader["entry/collection/devices/cam/cam_image/value"].shape == (4, 3, 2)
        assert [v.decode() for v in reader["entry/collection/devices/cam/cam_state/value"][...]] == [
            "s0",
            "s1",
            "s2",
            "s3",
        ]
    f.close()


def test_unwritable_path_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FileWriteError, match=str(blocker / "d" / "S5_master.h5")):
        ScanFile(str(blocker / "d" / "S5_master.h5")).open()


def test_update_mapping_rewrites_only_what_changed(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "m.h5", "w") as f:
        opened = {"status": "open", "n": 3, "gone": 1, "sub": {"a": 1, "b": [1, 2]}}
        write_mapping(f, opened)
        f["n"].attrs["mark"] = 1  # gone if "n" were rewritten
        update_mapping(f, {"status": "closed", "n": 3, "sub": {"a": 2, "b": [1, 2]}, "new": "x"}, opened)
        assert f["status"][()] == b"closed" and f["new"][()] == b"x"
        assert "gone" not in f
        assert f["sub/a"][()] == 2 and list(f["sub/b"][...]) == [1, 2]
        assert f["n"].attrs["mark"] == 1


@pytest.mark.parametrize(
    "info",
    [
        {
            "scan_name": "line_scan",
            "request_inputs": {
                "arg_bundle": ["samx", -1, 1],
                "inputs": {},
                "kwargs": {"steps": 10, "relative": False},
            },
        },
        {
            "scan_name": "grid_scan",
            "request_inputs": {
                "arg_bundle": ["samx", -1, 1, 3],
                "kwargs": {"system_config": {"file_suffix": None}, "t": (1,)},
            },
        },
        {"scan_name": None},
    ],
)
def test_cli_input_as_stock_composes_it(info: dict) -> None:
    stock = pytest.importorskip("bec_lib.utils.scan_utils")
    assert scan_cli_input(info) == stock.compose_cli_input_from_scan_info(info)


def test_sample_devices_fill_entry_sample(tmp_path: Path) -> None:
    """As stock's default layout: a baseline ``samplename`` reading becomes the group
    ``entry/sample/name``, monitored ``sample_description`` readings one JSON text."""
    f = ScanFile(str(tmp_path / "S3_master.h5"))
    f.open(summary("open"))
    f.write_baseline({"samplename": {"samplename": {"value": "lysozyme", "timestamp": 1.0}}})
    f.append(
        [
            point(i, sample_description={"sample_description": {"value": f"d{i}", "timestamp": 2.0}})
            for i in range(2)
        ]
    )
    f.finish(summary(), complete=True)
    with h5py.File(f.path, "r") as reader:
        sample = reader["entry/sample"]
        assert sample.attrs["NX_class"] == "NXsample"
        assert sample["name/samplename/value"][()] == b"lysozyme"
        text = json.loads(sample["description"][()])
        assert [row["sample_description"]["value"] for row in text] == ["d0", "d1"]


def test_no_sample_devices_empty_sample_group(tmp_path: Path) -> None:
    f = ScanFile(str(tmp_path / "S4_master.h5"))
    f.open(summary("open"))
    f.append([point(0)])
    f.finish(summary(), complete=True)
    with h5py.File(f.path, "r") as reader:
        assert len(reader["entry/sample"]) == 0
