"""Async device data in the file: stock's 'add', 'add_slice' and 'replace' update semantics
(``services/bec_file_writer/async_data.py``), written into a real HDF5 file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from bec_file_writer.async_data import AsyncData

from bec_core.messages import DeviceMessage


def msg(signal: str, value: Any, update: Any, timestamp: Any = 1.0) -> DeviceMessage:
    return DeviceMessage(
        signals={signal: {"value": value, "timestamp": timestamp}}, metadata={"async_update": update}
    )


@pytest.fixture
def data(tmp_path: Path):
    with h5py.File(tmp_path / "f.h5", "w") as f:
        yield AsyncData(f.create_group("entry/collection/devices"))


def test_add_1d_appends_flat(data: AsyncData) -> None:
    update = {"type": "add", "max_shape": [None]}
    data.write("wf", [msg("wf_data", np.arange(3.0), update), msg("wf_data", np.arange(4.0), update, 2.0)])
    group = data.devices["wf/wf_data"]
    assert group["value"].shape == (7,) and group["value"].dtype == np.float64
    np.testing.assert_array_equal(group["value"][...], [0, 1, 2, 0, 1, 2, 3])
    np.testing.assert_array_equal(group["timestamp"][...], [1.0, 2.0])
    assert dict(group.attrs) == {"NX_class": "NXdata", "signal": "value"}
    assert data.written_signals == {"wf": ["wf_data"]}


def test_add_scalar_rows(data: AsyncData) -> None:
    update = {"type": "add", "max_shape": [None]}
    data.write("wf", [msg("wf_0d", 5, update), msg("wf_0d", 7, update)])
    assert data.devices["wf/wf_0d/value"][...].tolist() == [5, 7]
    assert data.devices["wf/wf_0d/value"].dtype == np.int64


def test_add_2d_fixed_width_pads_short_rows(data: AsyncData) -> None:
    update = {"type": "add", "max_shape": [None, 4]}
    data.write("cam", [msg("img", np.ones(4), update), msg("img", 2 * np.ones(2), update)])
    ds = data.devices["cam/img/value"]
    assert ds.shape == (2, 4) and ds.maxshape == (None, 4)
    np.testing.assert_array_equal(ds[1], [2, 2, 0, 0])


def test_add_nd_rejects_too_wide(data: AsyncData) -> None:
    update = {"type": "add", "max_shape": [None, 3, 2]}
    data.write("cam", [msg("img", np.ones((3, 2)), update)])
    data.write("cam", [msg("img", np.ones((1, 4, 2)), update)])
    assert data.devices["cam/img/value"].shape == (1, 3, 2)
    assert any("exceeds max_shape" in w for w in data.warnings)


def test_add_vlen_rows(data: AsyncData) -> None:
    update = {"type": "add", "max_shape": [None, None]}
    data.write("mca", [msg("spec", np.arange(3), update), msg("spec", np.arange(5), update)])
    ds = data.devices["mca/spec/value"]
    assert h5py.check_vlen_dtype(ds.dtype) == np.int64
    assert [len(row) for row in ds[...]] == [3, 5]


def test_add_slice_builds_rows(data: AsyncData) -> None:
    def sl(index: int, value: Any) -> DeviceMessage:
        return msg(
            "wf_data",
            np.asarray(value, dtype=float),
            {"type": "add_slice", "index": index, "max_shape": [None, 4]},
        )

    data.write("wf", [sl(0, [1, 2]), sl(0, [3, 4]), sl(2, [9, 9, 9, 9]), sl(1, [5]), sl(1, [6, 7, 8, 9, 10])])
    ds = data.devices["wf/wf_data/value"]
    assert ds.shape == (3, 4)
    np.testing.assert_array_equal(ds[0], [1, 2, 3, 4])
    np.testing.assert_array_equal(ds[1], [5, 6, 7, 8])  # truncated at max_shape
    np.testing.assert_array_equal(ds[2], [9, 9, 9, 9])
    assert any("truncated" in w for w in data.warnings)
    assert data.devices["wf/wf_data/timestamp"].shape == (5,)


def test_add_slice_first_row_later(data: AsyncData) -> None:
    data.write(
        "wf",
        [msg("s", np.ones(2, dtype=np.int32), {"type": "add_slice", "index": 2, "max_shape": [None, 2]})],
    )
    ds = data.devices["wf/s/value"]
    assert ds.shape == (3, 2) and ds.dtype == np.int32
    np.testing.assert_array_equal(ds[...], [[0, 0], [0, 0], [1, 1]])


def test_add_slice_vlen_concatenates(data: AsyncData) -> None:
    update = {"type": "add_slice", "index": 0, "max_shape": [None, None]}
    data.write("mon", [msg("d", [1.0, 2.0], update), msg("d", [3.0], update)])
    ds = data.devices["mon/d/value"]
    assert ds.shape == (1,)
    np.testing.assert_array_equal(ds[0], [1, 2, 3])


@pytest.mark.parametrize(
    ("update", "value", "why"),
    [
        ({"type": "add_slice", "index": 0, "max_shape": [None]}, [1.0], "2-D max_shape"),
        ({"type": "add_slice", "index": 0, "max_shape": [None, 3]}, [[1.0]], "1-D data"),
        ({"type": "add_slice", "index": -1, "max_shape": [None, 3]}, [1.0], "outside max_shape"),
        ({"type": "add_slice", "index": 5, "max_shape": [2, 3]}, [1.0], "outside max_shape"),
        ({"type": "merge"}, [1.0], "unknown async update type"),
    ],
)
def test_bad_updates_warn_and_write_nothing(data: AsyncData, update: Any, value: Any, why: str) -> None:
    data.write("dev", [msg("s", value, update)])
    assert "value" not in data.devices["dev/s"]
    assert any(why in w for w in data.warnings), data.warnings


def test_replace_keeps_the_newest_until_finish(data: AsyncData) -> None:
    update = {"type": "replace"}
    data.write(
        "mon", [msg("d", [1.0, 2.0], update, [1.0, 2.0]), msg("d", [3.0, 4.0, 5.0], update, [3.0, 4.0, 5.0])]
    )
    assert "value" not in data.devices["mon/d"]
    np.testing.assert_array_equal(data.devices["mon/d/timestamp"][...], [3.0, 4.0, 5.0])
    data.finish()
    ds = data.devices["mon/d/value"]
    np.testing.assert_array_equal(ds[...], [3, 4, 5])
    assert ds.maxshape == (3,)


def test_old_update_formats(data: AsyncData) -> None:
    data.write("old", [msg("a", [1.0, 2.0], "extend"), msg("a", [3.0], "extend")])
    assert data.devices["old/a/value"][...].tolist() == [1, 2, 3]
    data.write("old", [msg("b", [1.0, 2.0], None), msg("b", [3.0, 4.0], None)])
    assert data.devices["old/b/value"].shape == (2, 2)
