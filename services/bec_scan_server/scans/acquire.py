"""``acquire``: one readout of every monitored device (``burst_at_each_point`` of them)."""

from __future__ import annotations

from bec_scan_server.scans.args import ACQUISITION, ACQUISITION_GROUP, BURST_AT_EACH_POINT
from bec_scan_server.scans.base import ScanBase


class Acquire(ScanBase):
    """A simple acquisition at the current position.

    Triggers and reads the monitored devices without moving anything.
    """

    scan_name = "acquire"
    positional = (*ACQUISITION, BURST_AT_EACH_POINT)
    gui_visibility = {"Scan Parameters": ACQUISITION_GROUP}
    examples = ("scans.acquire(exp_time=0.1, burst_at_each_point=3)",)
