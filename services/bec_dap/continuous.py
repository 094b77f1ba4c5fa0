"""Continuous fits: refit the running scan as its points arrive, publish each result.

Stock's protocol: ``bec.dap.<Model>.select("bpm4i")`` and ``.auto_run = True`` send a
DAPRequestMessage with ``dap_type="continuous"`` and ``config = {"selected_device":
[device, signal], "auto_run": bool, "class_args": [], "class_kwargs": {"model": ...}}``
(optionally ``device_x``/``signal_x``, ``parameters``, ``x_min``/``x_max``, ``oversample``).
One continuous fit is active at a time; a new request replaces it, ``auto_run=False`` ends
it. While a scan runs, each new point (``info/scans/scan_segment``) triggers a refit of all
of the scan's points so far; the scan's close triggers a final one. The x axis is the
device given, else the scan's first reported motor. Each result goes to the stream
``user/processed_data/<Model>`` as ``{"data": ProcessedDataMessage(data=curve,
metadata=report)}`` (newest 100 kept, 60 s expiry), where stock's ``get_data()`` and
bec_widgets read it.

Refits coalesce: while one fit runs, further points only mark the scan dirty, so a fast
scan costs one fit per fit duration, not one per point.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DAPRequestMessage, ProcessedDataMessage, ScanMessage, ScanStatusMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_dap.errors import DAPError, DAPRequestError
from bec_dap.fitting import FitOptions
from bec_dap.requests import FitRunner, requested_model
from bec_dap.scandata import Axes, ScanDataReader, build_fit_data

log = logging.getLogger(__name__)

STREAM_MAX = 100
STREAM_EXPIRY_S = 60


@dataclass
class ContinuousConfig:
    """The active continuous fit."""

    model: Any
    device_x: str | None
    signal_x: str | None
    device_y: str
    signal_y: str | None
    options: FitOptions

    @property
    def stream_name(self) -> str:
        """The ``processed_data`` id results go to (the model's class name, as stock)."""
        return self.model if isinstance(self.model, str) else "CompositeModel"


def parse_continuous(msg: DAPRequestMessage) -> ContinuousConfig | None:
    """The config of a continuous request; ``None`` when it switches continuous fitting off.

    Raises:
        DAPRequestError: unknown model, or auto_run without a selected device.
    """
    config = msg.config
    model = requested_model(msg)
    if not config.get("auto_run"):
        return None
    selected = config.get("selected_device") or [config.get("device_y"), config.get("signal_y")]
    if not isinstance(selected, (list, tuple)) or len(selected) != 2 or not selected[0]:
        raise DAPRequestError("a continuous fit needs selected_device [device, signal] (use .select(device))")
    device_y, signal_y = selected
    return ContinuousConfig(
        model=model,
        device_x=config.get("device_x"),
        signal_x=config.get("signal_x"),
        device_y=str(device_y),
        signal_y=signal_y,
        options=FitOptions(
            parameters=config.get("parameters"),
            x_min=config.get("x_min"),
            x_max=config.get("x_max"),
            oversample=config.get("oversample") or 1,
        ),
    )


@dataclass
class _Scan:
    scan_id: str
    status: ScanStatusMessage | None = None
    points: dict[int, ScanMessage] = field(default_factory=dict)
    loaded: bool = False  # stored points merged in (for a scan already running when we began)
    closed: bool = False


class ContinuousFits:
    """Follows scans and refits the active continuous configuration."""

    def __init__(self, connector: AsyncRedisConnector, reader: ScanDataReader, run_fit: FitRunner) -> None:
        self.connector = connector
        self.reader = reader
        self.run_fit = run_fit
        self.config: ContinuousConfig | None = None
        self.scan: _Scan | None = None
        self._dirty = asyncio.Event()
        self.published = 0
        self.failures = 0
        self.last_error: str | None = None

    async def configure(self, msg: DAPRequestMessage) -> None:
        """Take a continuous request (raises DAPRequestError for a bad one)."""
        self.config = parse_continuous(msg)
        if self.config is None:
            log.info("continuous fitting off")
            return
        log.info("continuous %s fit of %s", self.config.stream_name, self.config.device_y)
        if self.scan is None:
            status = await self.connector.get(MessageEndpoints.scan_status())
            if isinstance(status, ScanStatusMessage) and status.scan_id:
                self.scan = _Scan(status.scan_id, status, closed=status.status != "open")
        if self.scan is not None and not self.scan.closed:
            self._dirty.set()

    def on_status(self, msg: ScanStatusMessage) -> None:
        """A scan status: a new scan starts a new point set; a close triggers the final fit."""
        if not msg.scan_id:
            return
        if self.scan is None or self.scan.scan_id != msg.scan_id:
            self.scan = _Scan(msg.scan_id)
        self.scan.status = msg
        if msg.status not in ("open", "paused"):
            self.scan.closed = True
            self.scan.loaded = False  # re-read the stored points for the final fit
        if self.config is not None:
            self._dirty.set()

    def on_points(self, msgs: Iterable[Any]) -> None:
        """Scan points from ``info/scans/scan_segment`` (a ScanMessage or a bundle of them).

        Kept only while a continuous fit is active (one switched on mid-scan reads the points
        stored before it from Redis)."""
        if self.config is None:
            return
        for msg in msgs:
            if not isinstance(msg, ScanMessage):
                continue
            if self.scan is None or self.scan.scan_id != msg.scan_id:
                self.scan = _Scan(msg.scan_id)
            self.scan.points[msg.point_id] = msg
        self._dirty.set()

    async def run(self) -> None:
        """The refit loop (one fit at a time; points arriving meanwhile are fitted next)."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            config, scan = self.config, self.scan
            if config is None or scan is None:
                continue
            try:
                await self._refit(config, scan)
            except asyncio.CancelledError:
                raise
            except DAPError as exc:  # too few points so far, or no convergence yet: next point
                self.failures += 1
                self.last_error = str(exc)
                log.debug("continuous fit of %s: %s", scan.scan_id, exc)
            except Exception as exc:
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("continuous fit of %s failed", scan.scan_id)

    async def _refit(self, config: ContinuousConfig, scan: _Scan) -> None:
        if not scan.loaded:
            status = scan.status or await self.reader.scan_status(scan.scan_id)
            for msg in await self.reader.points(scan.scan_id, status):
                scan.points.setdefault(msg.point_id, msg)
            scan.status = status
            scan.loaded = True
        if not scan.points:
            return
        points = [scan.points[i] for i in sorted(scan.points)]
        axes = Axes(config.device_x, config.signal_x, config.device_y, config.signal_y)
        motors = scan.status.scan_report_devices if scan.status else None
        data = await build_fit_data(self.reader, scan.scan_id, points, motors, axes)
        curve, report = await self.run_fit(config.model, data, config.options)
        report["input"]["num_points"] = len(points)
        await self.connector.xadd(
            MessageEndpoints.processed_data(config.stream_name),
            {"data": ProcessedDataMessage(data=curve, metadata=report)},
            max_size=STREAM_MAX,
            expire=STREAM_EXPIRY_S,
        )
        self.published += 1
