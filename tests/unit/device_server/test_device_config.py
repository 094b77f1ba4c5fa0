"""Device config validation and device class resolution."""

from __future__ import annotations

from pathlib import Path

import pytest
from bec_device_server import sim
from bec_device_server.config import (
    devices_from_list,
    load_device_file,
    validate_devices,
    validate_devices_lenient,
)
from bec_device_server.errors import DeviceClassError
from bec_device_server.resolve import resolve_device_class, split_device_config

from bec_core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
ALLOWED = ["ophyd", "ophyd_devices", "bec_device_server"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "devices.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["demo.yaml", "test.yaml"])
def test_shipped_configs_are_valid(name: str) -> None:
    devices = load_device_file(ROOT / "config" / "devices" / name)
    assert {"samx", "samy", "bpm4i", "bpm4a", "bpm3i", "diode"} <= set(devices)
    for cfg in devices.values():
        resolve_device_class(cfg.deviceClass, ALLOWED)


def test_demo_has_gaussian_and_camera() -> None:
    devices = load_device_file(ROOT / "config" / "devices" / "demo.yaml")
    assert devices["bpm4i"].deviceConfig["ref_motor"] == "samx"
    assert devices["eiger"].softwareTrigger and devices["eiger"].readoutPriority == "async"
    assert sum(1 for d in devices.values() if d.readoutPriority == "monitored") >= 16


def test_typo_in_field_names_file_device_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "samx:\n  deviceClass: bec_device_server.sim.SimPositioner\n  readoutPriority: baseline\n"
        "  enabled: true\n  readOnyl: false\n",
    )
    with pytest.raises(ConfigError) as err:
        load_device_file(path)
    text = str(err.value)
    assert str(path) in text and "'samx'" in text and "readOnyl" in text


def test_bad_value_and_missing_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "samx:\n  deviceClass: bec_device_server.sim.SimPositioner\n  readoutPriority: sometimes\n  enabled: true\n"
        "bpm4i:\n  deviceClass: bec_device_server.sim.SimMonitor\n  readoutPriority: monitored\n",
    )
    with pytest.raises(ConfigError) as err:
        load_device_file(path)
    text = str(err.value)
    assert "device 'samx': field 'readoutPriority'" in text
    assert "device 'bpm4i': field 'enabled'" in text


def test_lenient_keeps_the_valid_devices() -> None:
    good, bad = validate_devices_lenient(
        {
            "samx": {
                "deviceClass": "bec_device_server.sim.SimPositioner",
                "readoutPriority": "baseline",
                "enabled": True,
            },
            "_bad": {"deviceClass": "x.Y", "readoutPriority": "baseline", "enabled": True},
        },
        "src",
    )
    assert list(good) == ["samx"] and "_bad" in bad and "field 'name'" in bad["_bad"]


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_device_file(write(tmp_path, "samx: [unclosed"))
    with pytest.raises(ConfigError, match="not found"):
        load_device_file(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="mapping"):
        validate_devices(["samx"], "src")


def test_devices_from_list_roundtrip() -> None:
    devices = load_device_file(ROOT / "config" / "devices" / "test.yaml")
    again = devices_from_list([d.as_dict() for d in devices.values()], "redis")
    assert again == devices


@pytest.mark.parametrize(
    ("path", "cls"),
    [
        ("bec_device_server.sim.SimPositioner", sim.SimPositioner),
        ("bec_device_server.sim.SimMonitor", sim.SimMonitor),
        ("bec_device_server.sim.SimCamera", sim.SimCamera),
        ("bec_device_server.sim.SimFailing", sim.SimFailing),
    ],
)
def test_our_sims_resolve_under_their_own_names(path: str, cls: type) -> None:
    assert resolve_device_class(path, ALLOWED) is cls


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("ophyd_devices.SimPositioner", "SimPositioner"),
        ("ophyd_devices.sim.sim_positioner.SimPositioner", "SimPositioner"),
        ("ophyd_devices.SimMonitor", "SimMonitor"),
        ("ophyd_devices.sim.sim_monitor.SimMonitorAsync", "SimMonitorAsync"),
        ("ophyd_devices.SimCamera", "SimCamera"),
        ("ophyd_devices.sim.SimPositionerWithController", "SimPositionerWithController"),
    ],
)
def test_ophyd_devices_names_resolve_to_the_real_classes(path: str, name: str) -> None:
    import ophyd_devices

    cls = resolve_device_class(path, ALLOWED)
    assert cls.__name__ == name and cls.__module__.startswith("ophyd_devices.")
    assert getattr(ophyd_devices, name, cls) is cls


def test_ophyd_classes_resolve() -> None:
    import ophyd

    assert resolve_device_class("ophyd.EpicsMotor", ALLOWED) is ophyd.EpicsMotor
    assert resolve_device_class("ophyd.EpicsSignalRO", ALLOWED) is ophyd.EpicsSignalRO


@pytest.mark.parametrize(
    ("path", "match"),
    [
        ("os.system", "not in the allowed modules"),
        ("subprocess.Popen", "not in the allowed modules"),
        ("ophyd.utils.LimitError", "not an ophyd device"),
        ("ophyd.NoSuchThing", "module 'ophyd' has no attribute 'NoSuchThing'"),
        ("ophyd_devices.doesnt_exist", "module 'ophyd_devices' has no attribute 'doesnt_exist'"),
        ("ophyd.nosuchmodule.Thing", "cannot import"),
        ("not a path", "import path"),
    ],
)
def test_class_resolution_errors(path: str, match: str) -> None:
    with pytest.raises(DeviceClassError, match=match):
        resolve_device_class(path, ALLOWED)


def test_allow_list_is_checked_before_import() -> None:
    with pytest.raises(DeviceClassError, match="not in the allowed modules"):
        resolve_device_class("ophyd.EpicsMotor", ["ophyd_devices"])


def test_split_device_config() -> None:
    import ophyd

    kwargs, rest = split_device_config(ophyd.EpicsMotor, {"prefix": "sim:mtr1", "limits": [-5, 5]})
    assert kwargs == {"prefix": "sim:mtr1"} and rest == {"limits": [-5, 5]}
    kwargs, rest = split_device_config(sim.SimPositioner, {"delay": 0, "limits": [-5, 5], "velocity": 3})
    assert kwargs == {"delay": 0, "limits": [-5, 5], "velocity": 3} and rest == {}
    import ophyd_devices

    kwargs, rest = split_device_config(
        ophyd_devices.SimPositioner, {"delay": 1, "limits": [-50, 50], "tolerance": 0.01, "velocity": 100}
    )
    assert kwargs == {"delay": 1, "limits": [-50, 50]} and rest == {"tolerance": 0.01, "velocity": 100}
