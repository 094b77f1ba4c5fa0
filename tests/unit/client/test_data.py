"""Collecting ScanMessages into arrays, and CSV export."""

from __future__ import annotations

import csv

import numpy as np

from bec_core.client.data import ScanData
from bec_core.messages import ScanMessage


def point(i: int, extra: dict | None = None) -> ScanMessage:
    data = {
        "samx": {
            "samx": {"value": i * 0.5, "timestamp": 100.0 + i},
            "samx_setpoint": {"value": i * 0.5, "timestamp": 1},
        },
        "bpm4i": {"bpm4i": {"value": 10 * i, "timestamp": 200.0 + i}},
    }
    data.update(extra or {})
    return ScanMessage(point_id=i, scan_id="s1", data=data)


def test_points_in_any_order_become_ordered_arrays():
    data = ScanData("s1")
    assert data.add_many([point(2), point(0), point(1), point(1)]) == 3  # a duplicate is not new
    view = data.view()
    assert view.num_points == 3 and view.point_ids == [0, 1, 2]
    np.testing.assert_array_equal(view["samx"]["samx"], [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(view.bpm4i.bpm4i, [0, 10, 20])
    np.testing.assert_array_equal(data.view("timestamp").bpm4i.bpm4i, [200.0, 201.0, 202.0])
    assert sorted(view) == ["bpm4i", "samx"] and "samx_setpoint" in dir(view.samx)


def test_missing_signal_is_nan_and_missing_points_are_listed():
    data = ScanData()
    data.add(point(0))
    data.add(point(2, {"det": {"det": {"value": 3.0}}}))
    assert np.isnan(data.view().det.det[0]) and data.view().det.det[1] == 3.0
    assert data.missing(4) == [1, 3]


def test_arrays_of_arrays():
    data = ScanData()
    for i in range(2):
        data.add(point(i, {"cam": {"cam_image": {"value": np.full((2, 3), i)}}}))
    assert data.view().cam.cam_image.shape == (2, 2, 3)


def test_csv(tmp_path):
    data = ScanData()
    data.add_many([point(i) for i in range(3)])
    path = data.to_csv(tmp_path / "scan.csv")
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["point_id", "samx", "samx.samx_setpoint", "bpm4i"]
    assert rows[1:] == [["0", "0.0", "0.0", "0"], ["1", "0.5", "0.5", "10"], ["2", "1.0", "1.0", "20"]]


def test_bundles_from_the_hub_are_split_per_scan():
    from bec_core.client.events import EventHub

    hub = EventHub(connector=None)
    other = ScanMessage(point_id=0, scan_id="s2", data={"samx": {"samx": {"value": 9}}})
    hub.apply_segments([point(0), point(1), other])
    assert len(hub.scan_state("s1").data) == 2 and len(hub.scan_state("s2").data) == 1


def test_next_scan_number():
    from bec_core.client.client import next_number

    assert next_number({"": 4}) == 5
    assert next_number({"p1234": 7}) == 8
    assert next_number(3) == 4
    assert next_number(None) is None
