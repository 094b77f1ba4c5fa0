"""A stock ``bec_lib`` client against bec-core's device server (and scan server), as real processes.

Stock ``BECClient(...).start()`` must build its device manager from our
``device_info`` (issue 12 item 0); bec_lib's whole demo config (216 devices, 13
``ophyd_devices`` classes) must load at start (``--config``) and through a runtime
``set`` from stock's ``ConfigHelper`` (``load_demo_config(force=True)``); each
class reads and the movable ones move through the stock client.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bec_lib
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "client"))

from stack import Stack

pytestmark = pytest.mark.system

DEMO_CONFIG = Path(bec_lib.__file__).parent / "configs" / "demo_config.yaml"
#: one device of each class of the demo config
ONE_OF_EACH = {
    "SimPositioner": "samx",
    "SimMonitor": "bpm4i",
    "SimCamera": "eiger",
    "SimWaveform": "waveform",
    "ComputedSignal": "pseudo_signal1",
    "ReadOnlySignal": "ring_current_sim",
    "SynDeviceOPAAS": "hexapod",
    "SimFlyer": "flyer_sim",  # ophyd_devices.SynFlyer is an alias of SimFlyer
    "SimPositionerWithController": "rt_controller",
    "SynDynamicComponents": "dyn_signals",
    "SimAsyncGauss2D": "gauss_async",
    "SimMonitorAsync": "monitor_async",
    "SimDeviceWithSignalDelay": "ramp_up",
}


def stock_client(stack: Stack) -> Any:
    """A started stock client, after our own client has seen both servers' heartbeats.

    Run with the stack's log directory as working directory: stock's config helper writes
    recovery configs below ``./logs``.
    """
    os.chdir(stack.log_dir)
    from bec_lib.client import BECClient as StockClient
    from bec_lib.service_config import ServiceConfig

    from bec_core.client import BECClient

    BECClient(stack.address, server_timeout=60).start().shutdown()  # event-driven wait for the servers
    StockClient._reset_singleton()
    host, port = stack.address.rsplit(":", 1)
    client = StockClient(
        config=ServiceConfig(redis={"host": host, "port": int(port)}), wait_for_server=False, forced=True
    )
    client.start()
    return client


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    cwd = os.getcwd()
    running = Stack(tmp_path_factory.mktemp("stock-client-stack")).start()
    try:
        yield running
    finally:
        running.stop()
        os.chdir(cwd)


@pytest.fixture(scope="module")
def bec(stack: Stack) -> Iterator[Any]:
    client = stock_client(stack)
    try:
        yield client
    finally:
        client.shutdown()


def test_stock_client_builds_its_device_manager_from_ours(bec: Any) -> None:
    dev = bec.device_manager.devices
    assert {"samx", "samy", "bpm4i"} <= set(dev)
    reading = dev.samx.read()  # an RPC through our scan server and device server
    assert "samx" in reading and "value" in reading["samx"]
    assert dev.samx.read(cached=True)["samx"]["value"] == reading["samx"]["value"]


def test_demo_config_loads_at_runtime_from_stock_config_helper(bec: Any) -> None:
    bec.config.load_demo_config(force=True)
    dev = bec.device_manager.devices
    assert len(dev) == 216
    assert all(d.enabled for d in dev.values())
    assert {d._info["device_class"] for d in dev.values()} == set(ONE_OF_EACH)


def test_each_demo_class_reads_through_the_stock_client(bec: Any) -> None:
    dev = bec.device_manager.devices
    if len(dev) != 216:
        bec.config.load_demo_config(force=True)
    failures: dict[str, str] = {}
    for cls, name in ONE_OF_EACH.items():
        device = getattr(dev, name)
        try:
            reading = device.read()
            # every reading is one of the signals the device_info announced, with value and timestamp
            known = {s["obj_name"] for s in device._info["signals"].values()} | {name}
            assert set(reading) <= known, f"read {sorted(reading)}, signals {sorted(known)}"
            assert all({"value", "timestamp"} <= set(v) for v in reading.values())
        except Exception as exc:
            failures[f"{cls} ({name})"] = f"{type(exc).__name__}: {exc}"
    assert failures == {}
    # signals and helpers of the real classes, used by stock scripts and tests
    assert dev.samx.velocity.get() == 100
    assert dev.eiger.exp_time.get() >= 0
    assert dev.gauss_async.amplitude.get() is not None
    assert "gaussianmodel" in [m.lower() for m in dev.bpm4i.sim.get_models()]  # the sim helper (user access)


def test_movable_demo_classes_move_through_the_stock_client(bec: Any) -> None:
    dev = bec.device_manager.devices
    if len(dev) != 216:
        bec.config.load_demo_config(force=True)
    # (a sub-device move, hexapod.x, is refused by our scan server's intake: F2, not the device server)
    for device, target in ((dev.samx, 1.0), (dev.rt_controller, 0.5)):
        device.move(target).wait(timeout=60)
        # the simulation stops within its tolerance (0.01) of the target, as in stock
        assert abs(device.readback.get() - target) < 0.05, device.name
        assert abs(device.read(cached=True)[device.name]["value"] - target) < 0.05, device.name


def test_cached_device_readout_after_put_set_get(bec: Any) -> None:
    """After an RPC put/set/get the device's cache is read again and published (stock's _update_cache)."""
    dev = bec.device_manager.devices
    if len(dev) != 216:
        bec.config.load_demo_config(force=True)
    dev.samx.setpoint.put(5)
    assert dev.samx.setpoint.get(cached=True) == 5
    orig_velocity = dev.samx.velocity.get(cached=True)
    dev.samx.velocity.put(10)
    assert dev.samx.velocity.get(cached=True) == 10
    assert dev.samx.read_configuration(cached=True)["samx_velocity"]["value"] == 10
    dev.samx.velocity.set(20).wait()
    assert dev.samx.velocity.get(cached=True) == 20
    dev.samx.velocity.put(orig_velocity)

    data = dev.hexapod.x.readback.read()
    timestamp = data["hexapod_x"]["timestamp"]
    assert dev.hexapod.x.readback.read(cached=True)["hexapod_x"]["timestamp"] == timestamp
    dev.hexapod.x.readback.get()  # a get refreshes the cache too
    assert dev.hexapod.x.readback.read(cached=True)["hexapod_x"]["timestamp"] != timestamp


def test_read_only_device_refuses_writes_with_stocks_text(bec: Any) -> None:
    dev = bec.device_manager.devices
    dev.samy.read_only = True  # a config update from the stock client
    try:
        with pytest.raises(Exception, match="Setting the device samy is currently disabled"):
            dev.samy.setpoint.put(3)
        assert dev.samy.read()["samy"]["value"] is not None  # reading still works
    finally:
        dev.samy.read_only = False
    dev.samy.setpoint.put(3)
    assert dev.samy.setpoint.get(cached=True) == 3


def _positioner(cls: str = "ophyd_devices.SimPositioner") -> dict[str, Any]:
    return {
        "deviceClass": cls,
        "deviceConfig": {} if cls != "ophyd_devices.SimPositioner" else {"delay": 1, "limits": [-50, 50]},
        "readoutPriority": "baseline",
        "deviceTags": ["user motors"],
        "enabled": True,
        "readOnly": False,
    }


def test_config_add_remove_errors_as_stock(bec: Any) -> None:
    from bec_lib.bec_errors import DeviceConfigError

    dev = bec.device_manager.devices
    helper = bec.device_manager.config_helper
    config = {"new_device": _positioner()}
    helper.send_config_request(action="add", config=config)
    with pytest.raises(DeviceConfigError) as error:
        helper.send_config_request(action="add", config=config)
    assert error.match("Device new_device already exists")
    assert "new_device" in dev
    helper.send_config_request(action="remove", config={"new_device": {}})
    assert "new_device" not in dev
    config["new_device"]["deviceClass"] = "ophyd_devices.doesnt_exist"
    with pytest.raises(DeviceConfigError) as error:
        helper.send_config_request(action="add", config=config)
    assert error.match("module 'ophyd_devices' has no attribute 'doesnt_exist'")
    assert "new_device" not in dev and "samx" in dev


def test_unreachable_device_stays_disabled_when_enabled_twice(bec: Any) -> None:
    from bec_lib.bec_errors import DeviceConfigError

    dev = bec.device_manager.devices
    config = {"unreachable": _positioner("ophyd_devices.utils.bec_utils.DeviceClassConnectionError")}
    try:
        with pytest.raises(DeviceConfigError):
            bec.device_manager.config_helper.send_config_request(action="add", config=config)
        device = dev["unreachable"]
        assert device.enabled is False
        for _ in range(2):
            with pytest.raises(DeviceConfigError):
                device.enabled = True
            assert device.enabled is False
    finally:
        if "unreachable" in dev:
            bec.device_manager.config_helper.send_config_request(action="remove", config={"unreachable": {}})


@pytest.mark.parametrize(
    ("eyefoc_class", "expected_devices", "disabled"),
    [
        ("ophyd_devices.SimPositioner", 2, []),
        ("ophyd_devices.utils.bec_utils.DeviceClassConnectionError", 2, ["eyefoc"]),
        ("ophyd_devices.utils.bec_utils.DeviceClassInitError", 0, []),
        ("ophyd_devices.WrongDeviceClass", 0, []),
    ],
    ids=["valid", "connection_error", "init_error", "unknown_class"],
)
def test_config_set_outcomes_as_stock(
    bec: Any, tmp_path: Path, eyefoc_class: str, expected_devices: int, disabled: list[str]
) -> None:
    import yaml
    from bec_lib.bec_errors import DeviceConfigError

    config = {"hexapod": _positioner("ophyd_devices.SynDeviceOPAAS"), "eyefoc": _positioner(eyefoc_class)}
    path = tmp_path / "runtime_config.yaml"
    path.write_text(yaml.dump(config))
    if disabled or expected_devices == 0:
        with pytest.raises(DeviceConfigError):
            bec.config.update_session_with_file(str(path), force=True, validate=False)
    else:
        bec.config.update_session_with_file(str(path), force=True, validate=False)
    dev = bec.device_manager.devices
    assert len(dev) == expected_devices
    for name in disabled:
        assert dev[name].enabled is False


def test_demo_config_loads_whole_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    running = Stack(tmp_path, devices=DEMO_CONFIG).start()
    try:
        client = stock_client(running)
        try:
            dev = client.device_manager.devices
            assert len(dev) == 216 and all(d.enabled for d in dev.values())
            assert dev.pseudo_signal1.read()["pseudo_signal1"]["value"] is not None
        finally:
            client.shutdown()
    finally:
        running.stop()
