"""System test: a plugin scan written for stock BEC's classes (bec-testing-plugin 0.4.0's
``device_progress_grid_scan``) hosted by our scan server (docs/decisions/0006), real processes.

Stock ``bec-server`` and the plugin are installed side by side, as docs/scans.md tells a beamline:
``pip install --target DIR --no-deps bec-server==4.3.2 bec-testing-plugin==0.4.0 libtmux`` (from
pip's cache), and the scan server gets ``BEC_SCAN_PLUGIN_PATHS=DIR``. Two broken plugins in the same
directory each raise an alarm naming them while the good one loads. A stock client (bec_lib) runs
the scan; the test checks its points, the hooks' instructions and the waveform's device progress.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from plugin_site import install
from ss_harness import device_server, scan_server
from stock_follower import Follower

from bec_core.redis_server import RedisServer, free_port

pytestmark = pytest.mark.system

DATA = Path(__file__).resolve().parents[2] / "data" / "scans"
_spec = importlib.util.spec_from_file_location("regen_scans", DATA / "regenerate_available_scans.py")
assert _spec is not None and _spec.loader is not None
_regen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_regen)
STOCK = ("bec-server==4.3.2", "bec-testing-plugin==0.4.0", "libtmux")
#: an instant motor (``{name}`` filled in), three of them below
MOTOR = """{name}:
  deviceClass: bec_device_server.sim.SimPositioner
  deviceConfig: {{delay: 0, limits: [-50, 50], tolerance: 0.01}}
  readoutPriority: baseline
  enabled: true
  readOnly: false
  softwareTrigger: false
"""
DEVICES = "".join(MOTOR.format(name=n) for n in ("samx", "samy", "samz")) + """bpm4i:
  deviceClass: bec_device_server.sim.SimMonitor
  deviceConfig: {model: gaussian, ref_motor: samx, sigma: 2.0, amplitude: 1000.0, noise: none}
  readoutPriority: monitored
  enabled: true
  readOnly: false
  softwareTrigger: false
waveform:
  deviceClass: ophyd_devices.SimWaveform
  deviceConfig: {waveform_shape: 10}
  readoutPriority: async
  enabled: true
  readOnly: false
  softwareTrigger: true
flyer_sim:
  deviceClass: ophyd_devices.SynFlyer
  deviceConfig: {delay: 1, device_access: true, update_frequency: 400}
  readoutPriority: on_request
  enabled: true
  readOnly: false
"""
#: a beamline-style fly scan on stock's classes: a line scan that kicks off a flyer (stock's
#: ``actions.kickoff``), which the flyer completes at post_scan (``complete_all_devices``)
FLYER_SCAN = """import numpy as np
from bec_server.scan_server.scans.line_scan import LineScan
from bec_server.scan_server.scans.scan_modifier import scan_hook


class FlyerLineScan(LineScan):
    \"\"\"A line scan with a flyer running beside it.\"\"\"

    scan_name = "flyer_line_scan"

    @scan_hook
    def scan_core(self):
        track = np.column_stack([self.positions[:, 0], self.positions[:, 0]]).tolist()
        self.actions.kickoff(
            "flyer_sim", parameters={"num_pos": len(track), "positions": track, "exp_time": 0.001}
        )
        self.components.step_scan(
            self.motors, self.positions, at_each_point=self.at_each_point, last_positions=self.positions[0]
        )
"""
BAD_NAME = """from bec_server.scan_server.scans.line_scan import LineScan


class BadlyNamed(LineScan):
    scan_name = "not an identifier"
"""


@pytest.fixture(scope="module")
def stock_site(tmp_path_factory) -> Path:
    """Stock bec-server and bec-testing-plugin in a --target directory, plus two broken plugins."""
    site = tmp_path_factory.mktemp("stock-site")
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), *STOCK]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"pip install --target failed: {done.stderr[-2000:]}")
    install(
        site,
        "bad-import",
        {"broken": "bad_import_scans"},
        {"bad_import_scans": {"__init__.py": "import x_y_z\n"}},
    )
    install(
        site, "bad-name", {"badly_named": "bad_name_scans"}, {"bad_name_scans": {"__init__.py": BAD_NAME}}
    )
    install(site, "flyer-scans", {"flyer": "flyer_scans"}, {"flyer_scans": {"__init__.py": FLYER_SCAN}})
    return site


@pytest.fixture(scope="module")
def hosted(tmp_path_factory, stock_site, bec_lib_modules):
    RedisConnector, Endpoints, messages, _DeviceBase = bec_lib_modules
    tmp = tmp_path_factory.mktemp("hosted")
    (tmp / "devices.yaml").write_text(DEVICES)
    # as bec-server runs them: the servers on the unix socket, stock bec_lib (this client and the
    # scan server's hosted stock classes) on the TCP address given as BEC_REDIS_TCP_URL
    redis = RedisServer(
        port=free_port(), unixsocket=tmp / "redis.sock", persistence="none", data_dir=tmp,
        log_file=tmp / "redis.log",
    ).start()  # fmt: skip
    connector = RedisConnector(redis.address)
    follower = Follower()
    for name, ep in {
        "status": Endpoints.scan_status(),
        "segment": Endpoints.scan_segment(),
        "queue": Endpoints.scan_queue_status(),
        "alarm": Endpoints.alarm(),
        "progress": Endpoints.device_progress("waveform"),
        "flyer": Endpoints.device_read("flyer_sim"),
        "baseline": Endpoints.scan_baseline(),
        "scans": Endpoints.available_scans(),
        "ss": Endpoints.service_status("ScanServer"),
        "ds": Endpoints.service_status("DeviceServer"),
    }.items():
        connector.register(ep, cb=follower.cb, name=name)
    ds = device_server(redis.url, tmp / "devices.yaml", tmp).start()
    env = {**os.environ, "BEC_SCAN_PLUGIN_PATHS": str(stock_site), "BEC_REDIS_TCP_URL": redis.address}
    ss = scan_server(redis.url, tmp, env=env).start()
    try:
        for name in ("ds", "ss"):
            follower.wait_for(
                lambda n=name: any(m.content["status"].value == 2 for m in follower.msgs[n]), name
            )
        follower.wait_for(lambda: follower.msgs["scans"], "available_scans", timeout=60)
        yield {"connector": connector, "follower": follower, "messages": messages, "E": Endpoints, "ss": ss}
    finally:
        connector.shutdown()
        code = ss.stop()
        ds.stop(signal.SIGKILL)
        redis.stop()
        assert code == 0, ss.tail()


def _run(env: dict, scan_type: str, args: list, **kwargs: Any) -> str:
    """Submit as a stock client does and wait for the scan's end; its scan id."""
    f = env["follower"]
    sid = _start(env, scan_type, args, **kwargs)
    f.wait_for(
        lambda: set(f.statuses(sid)) & {"closed", "aborted", "halted"}, f"end of {scan_type}", timeout=60
    )
    return sid


def test_stock_plugin_scans_are_published_as_stock_publishes_them(hosted):
    scans = hosted["follower"].msgs["scans"][-1].resource
    # what stock 4.3.2's scan server publishes for bec-testing-plugin 0.4.0 (its scan modifier applied)
    stock = json.loads((DATA / "stock_plugin_available_scans.json").read_text())
    ours = _regen.normalize(json.loads(json.dumps({name: scans[name] for name in stock})))
    assert ours == stock
    entry = scans["device_progress_grid_scan"]
    assert entry["class"] == "DeviceProgressScan" and entry["base_class"] == "ScanBaseV4"
    assert entry["arg_bundle_size"] == {"bundle": 4, "min": 2, "max": None}
    names = [p["name"] for p in entry["signature"]]
    assert names[:3] == ["args", "relative", "exp_time"] and names[-1] == "kwargs"
    assert "custom_testing_scan" in scans and "line_scan" in scans


def test_reload_scans_hosts_them_again(hosted):
    f, messages, E = hosted["follower"], hosted["messages"], hosted["E"]
    before = len(f.msgs["scans"])
    hosted["connector"].send(E.service_request(), messages.ServiceRequestMessage(action="reload_scans"))
    f.wait_for(lambda: len(f.msgs["scans"]) > before or None, "available_scans published again")
    assert {"device_progress_grid_scan", "flyer_line_scan"} <= set(f.msgs["scans"][-1].resource)
    sid = _run(hosted, "flyer_line_scan", ["samx", 0, 1], steps=2, relative=False)
    assert f.statuses(sid)[-1] == "closed"


def test_bad_stock_plugins_raise_alarms_naming_them(hosted):
    texts = [m.content["info"].compact_error_message for m in hosted["follower"].msgs["alarm"]]
    assert any("broken (bad_import_scans)" in t and "x_y_z" in t for t in texts), texts
    assert any("badly_named (bad_name_scans)" in t and "not an identifier" in t for t in texts), texts


def test_device_progress_grid_scan_points_hooks_and_progress(hosted):
    f, connector, E = hosted["follower"], hosted["connector"], hosted["E"]
    start = connector.get(E.device_readback("samx")).signals["samx"]["value"]
    sid = _run(
        hosted, "device_progress_grid_scan", ["samx", -1, 1, 3, "samy", -1, 1, 2], relative=True, exp_time=0
    )
    assert f.statuses(sid)[0] == "open" and f.statuses(sid)[-1] == "closed", f.statuses(sid)
    assert f.wait_for(lambda: sorted(f.points(sid)) == list(range(6)) or None, "6 points")
    segment = next(m for m in f.msgs["segment"] if m.scan_id == sid and m.point_id == 5)
    assert {"samx", "samy", "bpm4i"} <= set(segment.data)
    closed = next(m for m in f.msgs["status"] if m.scan_id == sid and m.status == "closed")
    assert closed.num_points == 6 and closed.info["num_monitored_readouts"] == 6
    # prepare_scan's baseline read (samz) is published as the scan's baseline
    baseline = f.wait_for(lambda: next((m for m in f.msgs["baseline"] if m.scan_id == sid), None), "baseline")
    assert "samz" in baseline.data and "samx" not in baseline.data
    # prepare_scan's report instruction (the plugin's own hook) reached the queue status
    blocks = [
        e.request_blocks[0] for q in f.msgs["queue"] for e in q.queue["primary"].info if e.scan_id[0] == sid
    ]
    assert any({"device_progress": ["waveform"]} in b.report_instructions for b in blocks)
    # the waveform was triggered at every point and reported its progress up to the last one
    last = f.wait_for(
        lambda: next((m for m in f.msgs["progress"] if m.done and m.metadata.get("scan_id") == sid), None),
        "final device progress of this scan",
    )
    assert last.value == 6 and last.max_value == 6
    # the hooks' instructions, in stock's order, went through our instruction stream
    entries = connector._redis_conn.xrange(E.device_instructions().endpoint)
    actions = [v for _id, fields in entries for v in [_action(fields, sid)] if v]
    order = [
        a
        for a in dict.fromkeys(actions)
        if a in ("stage", "pre_scan", "trigger", "read", "complete", "unstage")
    ]
    assert order == ["stage", "pre_scan", "trigger", "read", "complete", "unstage"], actions
    assert actions.index("baseline read") < actions.index("stage")
    # relative: GridScan.post_scan moved the motors back to where they were
    assert abs(connector.get(E.device_readback("samx")).signals["samx"]["value"] - start) < 0.05


def _action(fields: dict, scan_id: str) -> str | None:
    from bec_lib.serialization import MsgpackSerialization

    msg = MsgpackSerialization.loads(fields[b"data"])
    if msg.metadata.get("scan_id") != scan_id:
        return None
    return "baseline read" if msg.metadata.get("readout_priority") == "baseline" else msg.action


def test_kickoff_of_a_hosted_fly_scan_reaches_the_flyer(hosted):
    f, connector, E = hosted["follower"], hosted["connector"], hosted["E"]
    sid = _run(hosted, "flyer_line_scan", ["samx", 0, 1], steps=4, relative=False)
    assert f.statuses(sid)[-1] == "closed", f.statuses(sid)
    assert sorted(f.points(sid)) == [0, 1, 2, 3]
    # SynFlyer.kickoff(metadata, num_pos, positions, exp_time) ran (as stock calls it) and produced data
    data = f.wait_for(lambda: [m for m in f.msgs["flyer"] if "flyer_samx" in str(m)] or None, "flyer data")
    assert data
    entries = connector._redis_conn.xrange(E.device_instructions().endpoint)
    flyer = [
        msg.action
        for _id, fields in entries
        for msg in [_decode(fields)]
        if msg.metadata.get("scan_id") == sid
        and "flyer_sim" in (msg.device if isinstance(msg.device, list) else [msg.device])
    ]
    assert flyer.index("kickoff") < flyer.index("complete"), flyer


def _decode(fields: dict) -> Any:
    from bec_lib.serialization import MsgpackSerialization

    return MsgpackSerialization.loads(fields[b"data"])


def test_pause_and_resume_of_a_hosted_scan(hosted):
    f, messages, E = hosted["follower"], hosted["messages"], hosted["E"]

    def modify(action: str) -> None:
        mod = messages.ScanQueueModificationMessage(action=action, parameter={}, queue="primary")
        hosted["connector"].send(E.scan_queue_modification_request(), mod)

    sid = _run_async(hosted, "device_progress_grid_scan", ["samx", -1, 1, 6, "samy", -1, 1, 6], exp_time=0.02)
    f.wait_for(lambda: len(f.points(sid)) >= 2 or None, "two points")
    modify("pause")
    f.wait_for(lambda: "paused" in f.statuses(sid) or None, "paused")
    modify("continue")
    f.wait_for(lambda: "closed" in f.statuses(sid) or None, "closed after resume", timeout=60)
    statuses = f.statuses(sid)
    assert statuses.index("paused") < len(statuses) - 1 and statuses[-1] == "closed", statuses
    assert sorted(f.points(sid)) == list(range(36))


def test_abort_stops_a_hosted_scan(hosted):
    f, messages, E = hosted["follower"], hosted["messages"], hosted["E"]
    rid_scan = _run_async(
        hosted, "device_progress_grid_scan", ["samx", -1, 1, 20, "samy", -1, 1, 20], exp_time=0.05
    )
    f.wait_for(lambda: len(f.points(rid_scan)) >= 2 or None, "two points")
    mod = messages.ScanQueueModificationMessage(
        action="abort", parameter={}, queue="primary", scan_id=rid_scan
    )
    hosted["connector"].send(E.scan_queue_modification_request(), mod)
    f.wait_for(lambda: "aborted" in f.statuses(rid_scan) or None, "aborted")
    assert len(f.points(rid_scan)) < 400
    sid = _run(hosted, "device_progress_grid_scan", ["samx", 0, 1, 2, "samy", 0, 1, 2], relative=False)
    assert f.statuses(sid)[-1] == "closed"  # the queue goes on


def _run_async(env: dict, scan_type: str, args: list, **kwargs: Any) -> str:
    """Submit (``relative=False`` unless given); the scan id once queued, without waiting for its end."""
    return _start(env, scan_type, args, **{"relative": False, **kwargs})


def _start(env: dict, scan_type: str, args: list, **kwargs: Any) -> str:
    """Submit as a stock client does; the scan id once the queue gave it one."""
    messages, E, f = env["messages"], env["E"], env["follower"]
    rid = str(uuid.uuid4())
    msg = messages.ScanQueueMessage(
        scan_type=scan_type,
        parameter={"args": args, "kwargs": {"system_config": {}, **kwargs}},
        queue="primary",
        metadata={"RID": rid, "user_metadata": {}},
    )
    env["connector"].send(E.scan_queue_request("default"), msg)

    def scan_id() -> str | None:
        for queue in f.msgs["queue"]:
            for entry in queue.queue["primary"].info:
                if entry.request_blocks and entry.request_blocks[0].RID == rid and entry.scan_id[0]:
                    return entry.scan_id[0]
        return None

    return f.wait_for(scan_id, f"queue entry of {scan_type}")
