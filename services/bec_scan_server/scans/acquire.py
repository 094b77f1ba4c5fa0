"""``acquire``: one readout of every monitored device (``burst_at_each_point`` of them)."""

from __future__ import annotations

from bec_scan_server.scans.args import COMMON_KWARGS, Arg
from bec_scan_server.scans.base import ScanBase


class Acquire(ScanBase):
    """Trigger and read the monitored devices without moving anything.

    Args:
        exp_time: exposure time per frame in seconds
        burst_at_each_point: number of readouts

    Examples:
        >>> scans.acquire(exp_time=0.1, relative=False)
    """

    scan_name = "acquire"
    common = (Arg("relative", "bool", False), *COMMON_KWARGS[1:])
