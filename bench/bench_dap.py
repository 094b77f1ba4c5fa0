"""DAP: request → result time of a Gaussian fit, bec-dap beside stock BEC 4.3's DAP in the same run.

    python -m bench.bench_dap [--points 1000] [--repeats 20] [--port 6412] [--stock-port 6413]
                              [--stock-venv /work/stockvenv] [--no-stock]

Each side gets its own redis-server and its own servers as processes:

* bec-core: ``bec-device-server`` (samx and bpm4i, a Gaussian over samx with uniform noise),
  ``bec-scan-server`` and ``bec-dap``;
* stock: the six stock services from the stock virtual environment (as ``bench.bench_bec``
  starts them), the same two devices as ophyd_devices simulations, loaded with a stock
  ``BECClient``.

On each side a ``--points`` line scan runs once, then two requests are timed ``--repeats``
times, from the client's SET+PUBLISH of the DAPRequestMessage (stock bec_lib messages through a
stock RedisConnector, exactly what ``bec.dap.GaussianModel.fit(...)`` sends) to the arrival of
the DAPResponseMessage on ``user/dap/response/<RID>`` (a pattern subscription, so no polling
interval is measured):

* ``scan``: ``fit(scan_id, "samx", "samx", "bpm4i", "bpm4i")``: the DAP reads the scan
  (bec-dap from Redis, stock from its client-side scan storage) and fits it;
* ``arrays``: ``fit(data_x=x, data_y=y)`` with the scan's points in the request.

The "lmfit alone" row is the fit itself in this process (``bec_dap.fitting.fit``), the floor
both sides share.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bec_core.redis_server import RedisServer
from bench.common import Stats, Table, print_table, spawn, stop_group

OURS_DEVICES = """
samx:
  deviceClass: bec_device_server.sim.SimPositioner
  deviceConfig: {delay: 0, limits: [-50, 50], tolerance: 0.01}
  readoutPriority: baseline
  enabled: true
  readOnly: false
bpm4i:
  deviceClass: bec_device_server.sim.SimMonitor
  deviceConfig:
    sim_init:
      model: GaussianModel
      params: {amplitude: 200, center: 5, sigma: 1, noise: uniform, noise_multiplier: 10, ref_motor: samx}
  readoutPriority: monitored
  enabled: true
"""
STOCK_DEVICES = OURS_DEVICES.replace("bec_device_server.sim.", "ophyd_devices.")
CENTER = 5.0


class Responses:
    """DAPResponseMessages by RID, from one pattern subscription of a stock RedisConnector."""

    def __init__(self, connector: Any, endpoints: Any) -> None:
        self.cond = threading.Condition()
        self.seen: dict[str, Any] = {}
        connector.register(patterns=endpoints.dap_response("*"), cb=self.cb)

    def cb(self, msg: Any) -> None:
        with self.cond:
            rid = (msg.value.metadata or {}).get("RID")
            self.seen[rid] = msg.value
            self.cond.notify_all()

    def wait(self, rid: str, timeout: float = 60.0) -> Any:
        with self.cond:
            ok = self.cond.wait_for(lambda: rid in self.seen, timeout)
        if not ok:
            raise TimeoutError(f"no DAP response for {rid} within {timeout} s")
        return self.seen.pop(rid)


def request(config: dict) -> tuple[str, Any]:
    """A DAPRequestMessage for GaussianModel as stock's client builds it, and its RID."""
    from bec_lib import messages

    rid = str(uuid.uuid4())
    msg = messages.DAPRequestMessage(
        dap_cls="LmfitService1D",
        dap_type="on_demand",
        config={**config, "class_args": [], "class_kwargs": {"model": "GaussianModel"}},
        metadata={"RID": rid},
    )
    return rid, msg


@dataclass
class Side:
    """One DAP under test: a stock connector to its Redis, its scan and the requests to time."""

    name: str
    connector: Any
    responses: Responses
    scan_id: str
    x: np.ndarray
    y: np.ndarray
    samples: dict[str, list[float]] = field(default_factory=dict)
    center: float = float("nan")

    def config(self, kind: str) -> dict:
        if kind == "scan":
            return {"args": [self.scan_id, "samx", "samx", "bpm4i", "bpm4i"], "kwargs": {}}
        return {"args": [], "kwargs": {"data_x": self.x, "data_y": self.y}}

    def time_one(self, kind: str) -> None:
        """Send one request and record the seconds until its response arrived."""
        from bec_lib.endpoints import MessageEndpoints

        rid, msg = request(self.config(kind))
        t0 = time.perf_counter()
        self.connector.set_and_publish(MessageEndpoints.dap_request(), msg)
        response = self.responses.wait(rid)
        self.samples.setdefault(kind, []).append(time.perf_counter() - t0)
        if not response.success:
            raise RuntimeError(f"{self.name}: fit failed: {response.error}")
        if response.data is None:
            raise RuntimeError(f"{self.name}: the DAP answered with no fit (data None)")
        self.center = response.data[1]["fit_parameters"]["center"]


def scan_arrays(connector: Any, scan_id: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """x, y of a bec-core scan from its public segment keys."""
    from bec_lib.endpoints import MessageEndpoints

    x, y = [], []
    for i in range(n):
        msg = connector.get(MessageEndpoints.public_scan_segment(scan_id, i))
        x.append(msg.data["samx"]["samx"]["value"])
        y.append(msg.data["bpm4i"]["bpm4i"]["value"])
    return np.asarray(x), np.asarray(y)


def wait_running(connector: Any, names: tuple[str, ...], timeout: float = 120.0) -> None:
    from bec_lib.endpoints import MessageEndpoints

    deadline = time.monotonic() + timeout
    while True:
        beats = [connector.get(MessageEndpoints.service_status(n)) for n in names]
        if all(b is not None and b.status.name == "RUNNING" for b in beats):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"not RUNNING within {timeout} s: {names}")
        time.sleep(0.05)


def run_line_scan(connector: Any, points: int) -> str:
    """A stock-shaped line_scan request to bec-core's scan server; the scan_id once closed."""
    from bec_lib import messages
    from bec_lib.endpoints import MessageEndpoints

    rid = str(uuid.uuid4())
    msg = messages.ScanQueueMessage(
        scan_type="line_scan",
        parameter={
            "args": {"samx": [0, 2 * CENTER]},
            "kwargs": {
                "steps": points,
                "relative": False,
                "exp_time": 0,
                "system_config": {"file_suffix": None, "file_directory": None},
            },
        },
        queue="primary",
        metadata={
            "RID": rid,
            "file_suffix": None,
            "file_directory": None,
            "user_metadata": {},
            "client_info": {"acl_user": "default", "username": "bench", "hostname": "bench"},
        },
    )
    connector.send(MessageEndpoints.scan_queue_request("default"), msg)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = connector.get(MessageEndpoints.scan_status())
        if status is not None and status.metadata.get("RID") == rid and status.status == "closed":
            return status.scan_id
        time.sleep(0.02)
    raise TimeoutError("the bec-core scan did not close")


@contextlib.contextmanager
def ours_side(port: int, points: int, tmp: Path) -> Iterator[Side]:
    """bec-core's device server, scan server and bec-dap on their own Redis, after one scan."""
    import sys

    from bec_lib.endpoints import MessageEndpoints
    from bec_lib.redis_connector import RedisConnector

    bin_dir = Path(sys.executable).parent
    devices = tmp / "ours.yaml"
    devices.write_text(OURS_DEVICES)
    redis = RedisServer(port=port, persistence="none", data_dir=tmp, log_file=tmp / "ours-redis.log").start()
    url = redis.url
    procs = [
        spawn(
            [str(bin_dir / "bec-device-server"), "--redis", url, "--config", str(devices)],
            tmp / "ours-ds.log",
        ),
        spawn([str(bin_dir / "bec-scan-server"), "--redis", url], tmp / "ours-ss.log"),
        spawn([str(bin_dir / "bec-dap"), "--redis", url], tmp / "ours-dap.log"),
    ]
    connector = RedisConnector(redis.address)
    try:
        wait_running(connector, ("DeviceServer", "ScanServer", "DAPServer/LmfitService1D"))
        responses = Responses(connector, MessageEndpoints)
        scan_id = run_line_scan(connector, points)
        x, y = scan_arrays(connector, scan_id, points)
        yield Side("bec-dap", connector, responses, scan_id, x, y)
    finally:
        connector.shutdown()
        for proc in procs:
            stop_group(proc)
        redis.stop()


@contextlib.contextmanager
def stock_side(python: Path, port: int, points: int, tmp: Path) -> Iterator[Side]:
    """Stock BEC's six services on their own Redis, the devices loaded, after one scan."""
    from bec_lib.client import BECClient
    from bec_lib.endpoints import MessageEndpoints
    from bec_lib.redis_connector import RedisConnector
    from bec_lib.service_config import ServiceConfig

    from bench.bench_bec import StockStack

    devices = tmp / "stock.yaml"
    devices.write_text(STOCK_DEVICES)
    stack = StockStack(python, tmp)
    stack.redis = RedisServer(port=port, persistence="none", data_dir=tmp, log_file=tmp / "stock-redis.log")
    client = None
    connector = None
    try:
        stack.start()
        config = ServiceConfig(redis={"host": "127.0.0.1", "port": port}, log_writer={"base_path": str(tmp)})
        client = BECClient(config=config, forced=True)
        client.start()
        client.config.update_session_with_file(str(devices))
        dev = client.device_manager.devices
        report = client.scans.line_scan(dev.samx, 0, 2 * CENTER, steps=points, exp_time=0, relative=False)
        report.wait()
        data = report.scan.live_data
        x = np.asarray(data["samx"]["samx"].val)
        y = np.asarray(data["bpm4i"]["bpm4i"].val)
        connector = RedisConnector(f"127.0.0.1:{port}")
        yield Side("stock", connector, Responses(connector, MessageEndpoints), report.scan.scan_id, x, y)
    finally:
        if connector is not None:
            connector.shutdown()
        if client is not None:
            client.shutdown()
        stack.stop()


def lmfit_alone(x: np.ndarray, y: np.ndarray, repeats: int) -> Stats:
    from bec_dap.fitting import FitData, FitOptions, fit

    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fit("GaussianModel", FitData(x, y), FitOptions())
        samples.append(time.perf_counter() - t0)
    return Stats(samples)


KINDS = {"scan": "fit(scan_id, samx, samx, bpm4i, bpm4i)", "arrays": "fit(data_x=, data_y=)"}


def run(points: int, repeats: int, port: int, stock_port: int, stock_venv: Path | None) -> Table:
    """Both sides up at once, their requests alternated (the same machine load for both)."""
    table = Table(
        f"DAP: request → result, Gaussian fit of a {points:,}-point scan (ms)",
        ["request", "bec-dap median", "bec-dap spread", "stock median", "stock spread", "stock / bec-dap"],
        key="dap",
    )
    with tempfile.TemporaryDirectory(prefix="bench-dap-") as tmp_dir, contextlib.ExitStack() as sides:
        tmp = Path(tmp_dir)
        ours = sides.enter_context(ours_side(port, points, tmp))
        stock: Side | None = None
        if stock_venv is not None:
            try:
                stock = sides.enter_context(
                    stock_side(stock_venv / "bin" / "python", stock_port, points, tmp)
                )
            except Exception as exc:  # reported; bec-dap is still measured
                table.notes.append(f"stock BEC not measured: {type(exc).__name__}: {exc}")
        else:
            table.notes.append("stock BEC not measured (--no-stock)")
        for kind in KINDS:
            for _ in range(repeats):
                ours.time_one(kind)
                if stock is not None:
                    stock.time_one(kind)
        alone = lmfit_alone(ours.x, ours.y, repeats).scaled(1e3)
    for kind, label in KINDS.items():
        o = Stats(ours.samples[kind]).scaled(1e3)
        s = Stats(stock.samples[kind]).scaled(1e3) if stock is not None else None
        table.rows.append(
            [
                label,
                o.median,
                o.spread(1),
                s.median if s else None,
                s.spread(1) if s else None,
                f"{s.median / o.median:.1f}x" if s else None,
            ]
        )
    first_ours = ours.samples["scan"][0] * 1e3
    first_stock = stock.samples["scan"][0] * 1e3 if stock is not None else None
    table.rows.append(
        [
            "first fit of the scan (one sample)",
            first_ours,
            None,
            first_stock,
            None,
            f"{first_stock / first_ours:.1f}x" if first_stock else None,
        ]
    )
    table.rows.append(["lmfit alone (this process)", alone.median, alone.spread(1), None, None, None])
    table.notes.append(
        "bec-dap reads a scan's points from Redis on its first fit and keeps a finished scan's points "
        "in memory for the next ones; stock holds every scan it saw in its client-side scan storage"
    )
    found = f"centre found: bec-dap {ours.center:.3f}" + (f", stock {stock.center:.3f}" if stock else "")
    table.notes.append(f"{repeats} requests of each kind per side, alternating; {found} (true {CENTER})")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--port", type=int, default=6412, help="Redis port for bec-core")
    parser.add_argument("--stock-port", type=int, default=6413, help="Redis port for stock BEC")
    parser.add_argument("--stock-venv", type=Path, default=Path("/work/stockvenv"))
    parser.add_argument("--no-stock", action="store_true")
    args = parser.parse_args()
    table = run(
        args.points, args.repeats, args.port, args.stock_port, None if args.no_stock else args.stock_venv
    )
    print_table(table)  # with its notes


if __name__ == "__main__":
    main()
