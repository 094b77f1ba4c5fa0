"""The scans the scan server offers; add a module here and list its class below."""

from __future__ import annotations

from bec_scan_server.scans.acquire import Acquire
from bec_scan_server.scans.base import BoundArgs, ScanAPI, ScanBase
from bec_scan_server.scans.cont_line_scan import ContLineScan
from bec_scan_server.scans.device_rpc import DeviceRPC
from bec_scan_server.scans.fermat_scan import FermatSpiralScan
from bec_scan_server.scans.grid_scan import GridScan
from bec_scan_server.scans.hexagonal_scan import HexagonalScan
from bec_scan_server.scans.line_scan import LineScan, LogScan
from bec_scan_server.scans.line_sweep_scan import LineSweepScan
from bec_scan_server.scans.list_scan import ListScan
from bec_scan_server.scans.move import Move, UpdatedMove
from bec_scan_server.scans.multi_region import MultiRegionGridScan, MultiRegionLineScan
from bec_scan_server.scans.round_scan import RoundROIScan, RoundScan
from bec_scan_server.scans.time_scan import TimeScan

SCAN_CLASSES: tuple[type[ScanBase], ...] = (
    Move,
    UpdatedMove,
    LineScan,
    GridScan,
    ListScan,
    TimeScan,
    FermatSpiralScan,
    RoundScan,
    ContLineScan,
    Acquire,
    LogScan,
    HexagonalScan,
    MultiRegionLineScan,
    MultiRegionGridScan,
    RoundROIScan,
    LineSweepScan,
    DeviceRPC,
)

#: scan classes by scan name
SCANS: dict[str, type[ScanBase]] = {cls.scan_name: cls for cls in SCAN_CLASSES}


def available_scans(scans: dict[str, type[ScanBase]] = SCANS) -> dict[str, dict]:
    """The resource of ``info/scans/available_scans``: ``{scan_name: description}``."""
    return {name: cls.describe() for name, cls in scans.items()}


__all__ = ["SCANS", "SCAN_CLASSES", "BoundArgs", "ScanAPI", "ScanBase", "available_scans"]
