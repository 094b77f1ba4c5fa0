"""Pictures of scans: a live terminal plot (plotext < 6) and matplotlib figures (PNG).

Both are optional extras (``pip install bec-core[plot]``); a missing package
is reported as one line, not a traceback.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bec_core.errors import BECError

if TYPE_CHECKING:
    from bec_core.client.report import ScanItem

#: the live terminal plot redraws at most this often (seconds)
REDRAW_INTERVAL_S = 0.2


class PlotUnavailableError(BECError, ImportError):
    """The plotting package is not installed."""


def default_axes(scan: ScanItem, x: str | None = None, y: str | None = None) -> tuple[str, str, str, str]:
    """``(x_device, x_signal, y_device, y_signal)``: the scan motor and the first monitored detector."""
    status = scan.status_message
    client = scan._report._client
    motors = list(status.scan_report_devices or []) if status is not None else []
    monitored = list((status.readout_priority or {}).get("monitored") or []) if status is not None else []
    detectors = [d for d in monitored if d not in motors]
    x_dev = x or (motors[0] if motors else None)
    y_dev = y or (detectors[0] if detectors else None)
    if x_dev is None or y_dev is None:
        names = list(scan.data)
        x_dev = x_dev or (names[0] if names else "")
        y_dev = y_dev or (names[1] if len(names) > 1 else x_dev)

    def signal(dev: str) -> str:
        proxy = client.dev.get(dev)
        return proxy.readback_name if proxy is not None else dev

    return x_dev, signal(x_dev), y_dev, signal(y_dev)


def _xy(scan: ScanItem, x: str | None, y: str | None) -> tuple[Any, Any, str, str]:
    x_dev, x_sig, y_dev, y_sig = default_axes(scan, x, y)
    data = scan.data
    try:
        xs, ys = data[x_dev][x_sig], data[y_dev][y_sig]
    except KeyError as exc:
        raise BECError(f"no data for {exc.args[0]!r} in scan {scan.scan_number}") from None
    return xs, ys, x_sig, y_sig


def plot_scan(
    scan: ScanItem, path: str | Path | None = None, x: str | None = None, y: str | None = None
) -> Any:
    """A matplotlib figure of ``y`` against ``x``; saved to ``path`` (returns the path) if given."""
    try:
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailableError("plotting needs matplotlib: pip install 'bec-core[plot]'") from None
    xs, ys, x_sig, y_sig = _xy(scan, x, y)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(xs, ys, marker="o")
    ax.set_xlabel(x_sig)
    ax.set_ylabel(y_sig)
    ax.set_title(f"scan {scan.scan_number}: {y_sig} vs {x_sig}")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    if path is None:
        return fig
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


class LiveTerminalPlot:
    """Redraws a plotext plot of the first detector against the scan motor as points arrive."""

    def __init__(self, scan: ScanItem) -> None:
        try:
            import plotext
        except ImportError:
            raise PlotUnavailableError("--plot needs plotext<6: pip install 'bec-core[plot]'") from None
        if not hasattr(plotext, "plot"):
            raise PlotUnavailableError("plotext 6 removed plt.plot(); install plotext<6")
        self._plt = plotext
        self._scan = scan
        self._last = 0.0
        self._lock = threading.Lock()

    def on_point(self, point_id: int, point: dict[str, Any]) -> None:
        """Redraw (throttled) after a point."""
        now = time.monotonic()
        if now - self._last >= REDRAW_INTERVAL_S:
            self.draw()

    def draw(self) -> None:
        """Draw the current data."""
        with self._lock:
            self._last = time.monotonic()
            try:
                xs, ys, x_sig, y_sig = _xy(self._scan, None, None)
            except BECError:
                return
            plt = self._plt
            plt.clear_figure()
            plt.plot([float(v) for v in xs], [float(v) for v in ys], marker="dot")
            plt.xlabel(x_sig)
            plt.ylabel(y_sig)
            plt.title(f"scan {self._scan.scan_number}: {y_sig} vs {x_sig}")
            plt.plotsize(min(100, plt.terminal_width() or 80), 20)
            plt.show()
