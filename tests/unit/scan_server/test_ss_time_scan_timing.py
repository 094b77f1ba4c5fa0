"""time_scan timing as stock BEC: after each readout but the last it sleeps max(interval - exp_time, 0),
however long the readout took (checked on a virtual clock: the scan procedure against a recording API)."""

from __future__ import annotations

from typing import Any

import pytest
from bec_scan_server.scans import SCANS
from bec_scan_server.validation import build


class VirtualClockAPI:
    """The part of the ScanAPI a time_scan uses; a readout takes ``readout_s`` of virtual time."""

    def __init__(self, readout_s: float) -> None:
        self.now = 0.0
        self.readout_s = readout_s
        self.readouts: list[float] = []  # virtual start time of each readout
        self.sleeps: list[float] = []

    async def point(self, set: dict[str, float] | None = None, from_readback: Any = None) -> dict:
        self.readouts.append(self.now)
        self.now += self.readout_s
        return {}

    async def sleep_until(self, deadline: float) -> None:
        self.sleeps.append(max(deadline - self.now, 0.0))
        self.now = max(self.now, deadline)

    def loop_time(self) -> float:
        return self.now


def time_scan(**kwargs: Any):
    return build(SCANS["time_scan"], {"args": [], "kwargs": kwargs})


@pytest.mark.parametrize(
    ("interval", "exp_time", "readout_s", "sleep"),
    [
        (1.5, 0.1, 0.1, 1.4),  # the docstring's example
        (1.0, 0.2, 0.5, 0.8),  # a slow readout does not shorten the sleep
        (0.1, 0.5, 0.5, None),  # interval below the exposure: no sleep at all
    ],
)
async def test_sleep_between_points_is_interval_minus_exp_time(interval, exp_time, readout_s, sleep):
    scan = time_scan(points=4, interval=interval, exp_time=exp_time)
    api = VirtualClockAPI(readout_s)
    await scan.run(api)  # type: ignore[arg-type]
    assert len(api.readouts) == 4
    if sleep is None:
        assert api.sleeps == []
        gaps = [b - a for a, b in zip(api.readouts, api.readouts[1:], strict=False)]
        assert gaps == pytest.approx([readout_s] * 3)
    else:
        assert api.sleeps == pytest.approx([sleep] * 3)  # none after the last readout
        gaps = [b - a for a, b in zip(api.readouts, api.readouts[1:], strict=False)]
        assert gaps == pytest.approx([readout_s + sleep] * 3)


async def test_burst_readouts_share_one_sleep():
    scan = time_scan(points=2, interval=0.5, exp_time=0.1, burst_at_each_point=3)
    api = VirtualClockAPI(0.1)
    await scan.run(api)  # type: ignore[arg-type]
    assert len(api.readouts) == 6
    assert api.sleeps == pytest.approx([0.4])
