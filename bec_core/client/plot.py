"""Pictures of scans: a live terminal plot (plotext < 6) and matplotlib figures (PNG).

What is plotted is what a scientist means (:mod:`.signals`): the scan's hinted
detector signals against the scanned motor, or the signals chosen by name; a
grid scan of two motors becomes a heat map of one detector over both motors.
Axes carry device and signal names, with units where the device knows them.

Both plotting packages are optional extras (``pip install 'bec-core[plot]'``);
:func:`require_matplotlib` and :func:`require_plotext` check for them before a
scan is sent, and a missing package is reported as one line.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bec_core.client.signals import Column, detector_columns, motor_columns
from bec_core.errors import BECError

if TYPE_CHECKING:
    from bec_core.client.report import ScanItem

#: the live terminal plot redraws at most this often (seconds)
REDRAW_INTERVAL_S = 0.2
INSTALL_HINT = "pip install 'bec-core[plot]'"


class PlotUnavailableError(BECError, ImportError):
    """The plotting package is not installed."""


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` on the Agg backend; PlotUnavailableError if it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailableError(f"saving a plot needs matplotlib: {INSTALL_HINT}") from None
    return plt


def require_plotext() -> Any:
    """The ``plotext`` module (5.x); PlotUnavailableError if it is missing or too new."""
    try:
        import plotext
    except ImportError:
        raise PlotUnavailableError(f"--plot needs plotext<6: {INSTALL_HINT}") from None
    if not hasattr(plotext, "plot"):
        raise PlotUnavailableError(f"plotext 6 removed plt.plot(); install plotext<6: {INSTALL_HINT}")
    return plotext


@dataclass
class Grid:
    """A two-motor grid: the axis values and the image ``z[iy, ix]`` (NaN where no point yet)."""

    xs: np.ndarray
    ys: np.ndarray
    z: np.ndarray


@dataclass
class PlotData:
    """What one picture shows: the x column (and y column of a grid), the detector columns, the values."""

    title: str
    x: Column
    x_values: np.ndarray
    x_range: tuple[float, float] | None
    detectors: list[tuple[Column, np.ndarray]]
    y: Column | None = None
    grid: Grid | None = None


def _values(scan: ScanItem, column: Column) -> np.ndarray:
    data = scan.data
    try:
        return np.asarray(data[column.device][column.signal], dtype=float)
    except KeyError:
        raise BECError(f"no data for {column.label!r} in scan {scan.scan_number}") from None
    except (TypeError, ValueError):
        raise BECError(f"{column.label} is not a number per point; it cannot be plotted") from None


def _planned(scan: ScanItem) -> np.ndarray | None:
    status = scan.status_message
    positions = (getattr(status, "info", None) or {}).get("positions") if status is not None else None
    try:
        array = np.asarray(positions, dtype=float)
    except (TypeError, ValueError):
        return None
    return array if array.ndim == 2 and len(array) else None


def _grid(planned: np.ndarray | None, values: np.ndarray) -> Grid | None:
    """The image of a scan whose planned positions fill a rectangular grid of two motors."""
    if planned is None or planned.shape[1] != 2:
        return None
    xs, ys = np.unique(planned[:, 0]), np.unique(planned[:, 1])
    if len(xs) < 2 or len(ys) < 2 or len(xs) * len(ys) != len(planned):
        return None
    z = np.full((len(ys), len(xs)), np.nan)
    for (px, py), value in zip(planned[: len(values)], values, strict=False):
        z[np.searchsorted(ys, py), np.searchsorted(xs, px)] = value
    return Grid(xs, ys, z)


def plot_data(scan: ScanItem, x: str | None = None, y: str | Sequence[str] | None = None) -> PlotData:
    """Choose the axes of a scan's picture (see the module docstring)."""
    client = scan._report._client
    status = scan.status_message
    if status is None:
        raise BECError("the scan has not started yet: nothing to plot")
    choice = [y] if isinstance(y, str) else list(y) if y else None
    # without a choice: the first hinted detector signal (in config order), one clear curve
    chosen = detector_columns(client, status, choice, limit=None if choice else 1)
    if not chosen:
        raise BECError(f"scan {scan.scan_number} has no detector to plot; name one with y=")
    motors = motor_columns(client, status)
    if x is not None:
        motors = [*(detector_columns(client, status, [x])), *motors[1:]]
    if not motors:
        raise BECError(f"scan {scan.scan_number} moved no motor; name the x axis with x=")
    planned = _planned(scan)
    title = f"scan {scan.scan_number} {scan._report.scan_name}"
    detectors = [(c, _values(scan, c)) for c in chosen]
    grid = _grid(planned, detectors[0][1]) if x is None and len(motors) == 2 else None
    if grid is not None:
        return PlotData(title, motors[0], grid.xs, None, detectors[:1], motors[1], grid)
    x_range = None
    if planned is not None and x is None:
        x_range = (float(planned[:, 0].min()), float(planned[:, 0].max()))
    return PlotData(title, motors[0], _values(scan, motors[0]), x_range, detectors)


def plot_scan(
    scan: ScanItem, path: str | Path | None = None, x: str | None = None, y: str | Sequence[str] | None = None
) -> Any:
    """A matplotlib figure of the scan (see :func:`plot_data`); saved to ``path`` (returns it) if given."""
    if path is not None:
        plt = require_matplotlib()
    else:
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise PlotUnavailableError(f"plotting needs matplotlib: {INSTALL_HINT}") from None
    data = plot_data(scan, x, y)
    fig, ax = plt.subplots(figsize=(6.4, 4.8 if data.grid else 4.0))
    if data.grid is not None and data.y is not None:
        grid, column = data.grid, data.detectors[0][0]
        mesh = ax.pcolormesh(grid.xs, grid.ys, np.ma.masked_invalid(grid.z), shading="nearest")
        fig.colorbar(mesh, ax=ax, label=column.label)
        ax.set_ylabel(data.y.label)
        ax.set_title(f"{data.title}: {column.label}")
    else:
        for column, values in data.detectors:
            n = min(len(values), len(data.x_values))
            ax.plot(data.x_values[:n], values[:n], marker="o", label=column.label)
        ax.set_ylabel(", ".join(c.label for c, _ in data.detectors))
        if len(data.detectors) > 1:
            ax.legend()
        ax.set_title(f"{data.title}: {', '.join(c.label for c, _ in data.detectors)}")
        ax.grid(True, alpha=0.3)
    ax.set_xlabel(data.x.label)
    fig.tight_layout()
    if path is None:
        return fig
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


class LiveTerminalPlot:
    """Redraws a plotext picture of the scan as points arrive (a heat map for a grid scan)."""

    def __init__(self, scan: ScanItem, y: Sequence[str] | None = None) -> None:
        self._plt = require_plotext()
        self._scan = scan
        self._y = list(y) if y else None
        self._last = 0.0
        self._lock = threading.Lock()

    def on_point(self, point_id: int, point: dict[str, Any]) -> None:
        """Redraw (throttled) after a point."""
        if time.monotonic() - self._last >= REDRAW_INTERVAL_S:
            self.draw(final=False)

    def draw(self, final: bool = True) -> None:
        """Draw the current data (a grid scan's heat map only once, at the end)."""
        with self._lock:
            self._last = time.monotonic()
            try:
                data = plot_data(self._scan, None, self._y)
            except BECError:
                return
            if data.grid is not None and data.y is not None:
                if final:
                    self._heat_map(data)
                return
            plt = self._plt
            plt.clear_figure()
            if not sys.stdout.isatty():
                plt.theme("clear")  # no colour codes into a pipe or a file
            plt.plotsize(min(100, plt.terminal_width() or 80), 20)
            for column, values in data.detectors:
                n = min(len(values), len(data.x_values))
                plt.plot(
                    [float(v) for v in data.x_values[:n]],
                    [float(v) for v in values[:n]],
                    marker="dot",
                    label=column.label if len(data.detectors) > 1 else None,
                )
            if data.x_range is not None and data.x_range[0] < data.x_range[1]:
                plt.xlim(*data.x_range)  # a fixed axis from the first frame on, in scan direction
            plt.ylabel(", ".join(c.label for c, _ in data.detectors))
            plt.title(f"{data.title}: {', '.join(c.label for c, _ in data.detectors)}")
            plt.xlabel(data.x.label)
            plt.show()

    def _heat_map(self, data: PlotData) -> None:
        from bec_core.client.display import stdout_console

        stdout_console().print(heat_map_text(data))


#: viridis at five stops (dark blue → green → yellow): the colour scale of the terminal heat map
_VIRIDIS = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]


_SHADES = " .:-=+*#%@"


def _colour(fraction: float) -> str:
    fraction = min(max(fraction, 0.0), 1.0) * (len(_VIRIDIS) - 1)
    i = min(int(fraction), len(_VIRIDIS) - 2)
    t = fraction - i
    r, g, b = (round(a + (c - a) * t) for a, c in zip(_VIRIDIS[i], _VIRIDIS[i + 1], strict=True))
    return f"rgb({r},{g},{b})"


def heat_map_text(data: PlotData) -> Any:
    """A grid scan as a coloured block per point (rich Text): y motor upwards, x motor across."""
    from rich.text import Text

    grid = data.grid
    assert grid is not None and data.y is not None
    column = data.detectors[0][0]
    finite = grid.z[np.isfinite(grid.z)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    x_labels = [f"{v:.3g}" for v in grid.xs]
    y_labels = [f"{v:.3g}" for v in grid.ys]
    cell = max(3, *(len(t) + 1 for t in x_labels))
    margin = max(len(t) for t in [*y_labels, data.y.label[:12]]) + 1
    text = Text(f"{data.title}: {column.label} over {data.x.label} and {data.y.label}\n", style="bold")
    text.append(f"{data.y.label[: margin - 1]:>{margin - 1}}\n")
    for iy in range(len(grid.ys) - 1, -1, -1):  # the largest y on top
        text.append(f"{y_labels[iy]:>{margin - 1}} ")
        for ix in range(len(grid.xs)):
            value = grid.z[iy, ix]
            if np.isfinite(value):
                fraction = (value - low) / ((high - low) or 1.0)
                colour = _colour(fraction)  # the shade character shows where colour is off (pipes)
                shade = _SHADES[min(int(fraction * len(_SHADES)), len(_SHADES) - 1)]
                text.append(shade * cell, style=f"{colour} on {colour}")
            else:
                text.append("·".center(cell), style="dim")
        text.append("\n")
    text.append(" " * margin + "".join(t.center(cell) for t in x_labels) + f"  {data.x.label}\n")
    text.append(" " * margin + f"{column.label}: ")
    text.append(f"{low:.4g} ")
    for k, shade in enumerate(_SHADES):
        colour = _colour(k / (len(_SHADES) - 1))
        text.append(shade * 2, style=f"{colour} on {colour}")
    text.append(f" {high:.4g}")
    return text
