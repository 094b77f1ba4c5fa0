"""Example field values of real-looking messages, for documentation, tests and benchmarks.

``SCAN_STATUS`` is the worked example of the protocol reference (section 3.3):
stock bec_lib 4.3.2 encodes it in 489 bytes, and so do we.
"""

from __future__ import annotations

from typing import Any

SCAN_STATUS: dict[str, Any] = {
    "scan_id": "1234",
    "status": "open",
    "scan_number": 5,
    "dataset_number": 5,
    "num_points": 3,
    "scan_name": "line_scan",
    "scan_type": "software_triggered",
    "readout_priority": {
        "monitored": ["samx", "bpm4i"],
        "baseline": [],
        "async": [],
        "continuous": [],
        "on_request": [],
    },
    "scan_parameters": {"exp_time": 0.1},
    "info": {"scan_number": 5, "positions": [[0.0], [1.0]]},
    "metadata": {"RID": "r1"},
    "timestamp": 1700000000.0,
}


def device_reading(n_signals: int = 50) -> dict[str, Any]:
    """Fields of a DeviceMessage with ``n_signals`` signals (like one read of a busy device)."""
    return {
        "signals": {
            f"bpm{i}": {"value": float(i) * 1.5, "timestamp": 1700000000.0 + i} for i in range(n_signals)
        },
        "metadata": {"point_id": 3, "scan_id": "1234"},
    }
