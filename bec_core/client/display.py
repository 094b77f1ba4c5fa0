"""Rich output: live scan table and progress, live motor readbacks, and the static tables.

Used by the shell and the CLI; the scripting API never prints unless asked.
The live scan display follows the client's event hub: a row per point as it
arrives, a progress bar underneath, nothing polled.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from bec_core.endpoints import MessageEndpoints

if TYPE_CHECKING:
    from bec_core.client.client import BECClient
    from bec_core.client.movement import MoveStatus
    from bec_core.client.report import ScanReport

#: at most this many detector columns in the live table
MAX_DETECTOR_COLUMNS = 5
COLUMN_WIDTH = 12


@functools.lru_cache(maxsize=1)
def stdout_console() -> Console:
    """The console every client display prints to."""
    return Console(highlight=False)


def fmt(value: Any, width: int = COLUMN_WIDTH) -> str:
    """A number right-aligned in ``width`` characters (other values as text)."""
    if isinstance(value, bool) or value is None:
        text = str(value)
    elif isinstance(value, (int, float)) or type(value).__module__ == "numpy":
        try:
            text = f"{float(value):.5g}"
        except (TypeError, ValueError):
            text = "[...]"
    else:
        text = str(value)
    return text[:width].rjust(width)


class ScanTable:
    """Columns of the live table: point, the scan's motors, then the detectors' hinted signals.

    ``devices`` is the user's choice of detector columns (``device`` or ``device.signal``), in
    the user's order; without it, the hinted signals of the scan's detectors in config order.
    """

    def __init__(self, client: BECClient, status: Any, devices: Sequence[str] | None = None) -> None:
        from bec_core.client.signals import detector_columns, motor_columns

        chosen = detector_columns(client, status, devices, limit=None if devices else MAX_DETECTOR_COLUMNS)
        self.columns: list[tuple[str, str]] = [
            (c.device, c.signal) for c in motor_columns(client, status) + chosen
        ]

        #: a column is as wide as its signal name (never cut), at least COLUMN_WIDTH
        self.widths = [max(COLUMN_WIDTH, len(signal)) for _dev, signal in self.columns]

    def header(self) -> str:
        """The header line."""
        cells = [signal.rjust(w) for (_dev, signal), w in zip(self.columns, self.widths, strict=True)]
        return "point".rjust(6) + " " + " ".join(cells)

    def row(self, point_id: int, data: dict[str, Any]) -> str:
        """One line for a point."""
        cells = [
            fmt((data.get(dev) or {}).get(sig, {}).get("value"), w)
            for (dev, sig), w in zip(self.columns, self.widths, strict=True)
        ]
        return str(point_id).rjust(6) + " " + " ".join(cells)


class LiveScan:
    """Shows a scan's points as they arrive and a progress bar; ``run()`` blocks until the end."""

    def __init__(
        self,
        client: BECClient,
        report: ScanReport,
        console: Console | None = None,
        devices: Sequence[str] | None = None,
    ) -> None:
        self.client = client
        self.report = report
        self.devices = devices
        self.console = console or stdout_console()
        self._table: ScanTable | None = None
        self._shown: set[int] = set()
        self._lock = threading.Lock()
        self._progress: Any = None
        self._task: Any = None
        self.on_point: list[Any] = []

    def run(self, timeout: float | None = None) -> ScanReport:
        """Display until the scan ends; raises what :meth:`ScanReport.wait` raises."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        hub = self.client.events
        if self._progress is None:  # run() is called again after a Ctrl-C: keep table and progress
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
                # input() and print() go straight to the terminal (a question after Ctrl-C
                # must not pass through rich's markup)
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._task = self._progress.add_task(self.report.scan_name, total=None)
        hub.add_listener(self._on_event)
        try:
            # start() inside the try: a Ctrl-C arriving during start() still stops the bar
            self._progress.start()
            self._catch_up()
            self.report.wait(timeout)
            self._catch_up()
        finally:
            hub.remove_listener(self._on_event)
            self._stop_progress()
        self._summary()
        return self.report

    def _stop_progress(self) -> None:
        """Stop the bar, also one whose start() a Ctrl-C cut short (rich then has no live to pop)."""
        try:
            self._progress.stop()
        except IndexError:
            pass

    def _on_event(self, kind: str, value: Any) -> None:
        if kind in ("segment", "scan_status"):
            self._catch_up()
        elif kind == "queue_status" and self._table is None:
            queue = value.queue.get("primary")
            item = self.client.events.items.get(self.report.rid)
            if queue is not None and item is not None:
                note = f"{self.report.scan_name}: {item.status.lower()}"
                if queue.status != "RUNNING":
                    note += f" (queue {queue.status}: bec.queue.resume())"
                self._progress.update(self._task, description=note)

    def _catch_up(self) -> None:
        """Print every point not shown yet, in order (called from the callback thread too)."""
        scan = self.report.scan
        status = scan.status_message
        if status is None:
            return
        with self._lock:
            if self._table is None:
                self._table = ScanTable(self.client, status, self.devices)
                number = f"scan {status.scan_number}" if status.scan_number is not None else "scan"
                self._progress.update(
                    self._task, description=f"{number} {self.report.scan_name}", total=status.num_points
                )
                self.console.print(f"[bold]{number}[/] {self.report.scan_name}  (scan_id {status.scan_id})")
                self.console.print(self._table.header(), style="bold")
            data = scan.raw
            for point_id in range(len(self._shown), len(data) + 1):
                point = data.point(point_id)
                if point is None or point_id in self._shown:
                    break
                self._shown.add(point_id)
                self.console.print(self._table.row(point_id, point))
                for callback in self.on_point:
                    callback(point_id, point)
            self._progress.update(self._task, completed=len(self._shown))

    def _summary(self) -> None:
        scan = self.report.scan
        self.console.print(
            f"[green]scan {scan.scan_number} finished[/]: {len(scan.raw)} points, status {scan.status}"
        )


def live_move(client: BECClient, status: MoveStatus, console: Console | None = None) -> MoveStatus:
    """Show the moving motors' readbacks live until they arrived; return the status."""
    from rich.live import Live

    console = console or stdout_console()
    positions: dict[str, Any] = {}
    for name in status.targets:
        proxy = client.dev.get(name)
        positions[name] = proxy.position if proxy is not None else None
    # "from → to": where the motor was when the move was asked for; the current position beside it
    starts = {
        name: positions[name] if status.starts.get(name) is None else status.starts[name]
        for name in status.targets
    }

    def render() -> str:
        return "   ".join(
            f"[bold]{name}[/] {fmt(starts.get(name), 10).strip()} → {fmt(target, 10).strip()}"
            f" (at {fmt(positions.get(name), 10).strip()})"
            for name, target in status.targets.items()
        )

    # in a terminal the line updates in place; into a pipe only the final line is written
    live = Live(render(), console=console, refresh_per_second=20, transient=not console.is_terminal)

    def on_readback(msg: Any, **_: Any) -> None:
        name = msg.topic.rsplit("/", 1)[-1]
        proxy = client.dev.get(name)
        signal = proxy.readback_name if proxy is not None else name
        value = msg.value.signals.get(signal, {}).get("value")
        if value is not None:
            positions[name] = value
            live.update(render())

    topics = [MessageEndpoints.device_readback(n) for n in status.targets]
    client.connector.register(topics, cb=on_readback)
    try:
        with live:
            status.wait()
            for name in status.targets:
                proxy = client.dev.get(name)
                if proxy is not None:
                    positions[name] = proxy.position
            live.update(render())
    finally:
        client.connector.unregister(topics, cb=on_readback)
    if not console.is_terminal:
        console.print(render())  # one complete line, with its newline
    return status


def queue_table(state: str | None, rows: list[dict[str, Any]]) -> Table:
    """The queue as a table."""
    table = Table(title=f"queue primary: {state or 'unknown'}", title_justify="left")
    for column in ("scan", "type", "status", "RID"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["scan_number"] or "-"), row["scan_type"], row["status"], row["RID"][:8])
    return table


def wm_table(rows: list[dict[str, Any]]) -> Table:
    """``wm`` as a table."""
    table = Table(title_justify="left")
    for column in ("device", "readback", "setpoint", "low limit", "high limit"):
        table.add_column(column, justify="right" if column != "device" else "left")
    for row in rows:
        low, high = row["limits"]
        table.add_row(row["name"], fmt(row["readback"]), fmt(row["setpoint"]), fmt(low), fmt(high))
    return table


def data_table(
    report: ScanReport, max_rows: int | None = None, devices: Sequence[str] | None = None
) -> Table:
    """A scan's points as a table; ``devices`` picks the detector columns.

    With ``max_rows`` the table stops there and its caption says how many rows it left out.
    """
    status = report.scan.status_message
    table = Table(title=f"scan {report.scan.scan_number} {report.scan_name}: {report.scan.status}")
    columns = ScanTable(report._client, status, devices).columns if status is not None else []
    table.add_column("point", justify="right")
    for _dev, signal in columns:
        table.add_column(signal, justify="right")
    data = report.scan.raw
    shown = len(data) if max_rows is None else min(len(data), max_rows)
    if shown < len(data):
        table.caption = f"… {len(data) - shown} more rows (report.scan.data has all {len(data)} points)"
    for point_id in range(shown):
        point = data.point(point_id) or {}
        table.add_row(
            str(point_id),
            *(fmt((point.get(dev) or {}).get(sig, {}).get("value")).strip() for dev, sig in columns),
        )
    return table
