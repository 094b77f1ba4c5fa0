"""docs/devices.md (issue 16, item 8): every YAML example loads with the device server's parser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

DOC = Path(__file__).resolve().parents[3] / "docs" / "devices.md"
ALLOWED = ("ophyd", "ophyd_devices", "bec_device_server")  # config/services.yaml's default


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)


def yaml_files() -> dict[str, str]:
    """The ```` ```yaml file=NAME ```` blocks (files that include each other), by file name."""
    return dict(re.findall(r"```yaml file=(\S+)\n(.*?)```", DOC.read_text(), re.S))


def test_the_page_has_the_promised_examples() -> None:
    text = "\n".join(yaml_blocks())
    for needed in (
        "ophyd.EpicsMotor",
        "ophyd.EpicsSignal",
        "bec_device_server.sim.SimPositioner",
        "ophyd_devices.SimMonitor",
    ):
        assert needed in text
    assert len(yaml_blocks()) >= 4


@pytest.mark.parametrize("index", range(len(yaml_blocks())))
def test_each_example_loads_and_its_classes_resolve(index: int) -> None:
    pytest.importorskip("bec_device_server")
    from bec_device_server.config import validate_devices
    from bec_device_server.resolve import resolve_device_class, split_device_config

    raw = yaml.safe_load(yaml_blocks()[index])
    devices = validate_devices(raw, f"docs/devices.md example {index + 1}")
    assert devices
    for name, device in devices.items():
        cls = resolve_device_class(device.deviceClass, ALLOWED)
        _kwargs, rest = split_device_config(cls, dict(device.deviceConfig or {}))
        # keys that are not constructor arguments are applied to the built device, as stock's
        # update_config does (``velocity`` sets the positioner's velocity signal): they must exist
        if hasattr(cls, "_update_device_config"):  # the class takes its whole deviceConfig (proxies)
            continue
        rest.pop("device_access", None)  # taken by the server: hands the device ``device_manager``
        unknown = sorted(key for key in rest if not hasattr(cls, key))
        assert not unknown, f"{name}: {unknown} are neither arguments nor attributes of {cls.__name__}"


def test_the_first_example_shows_every_key() -> None:
    pytest.importorskip("bec_device_server")
    from bec_device_server.config import DeviceConfig

    (entry,) = yaml.safe_load(yaml_blocks()[0]).values()
    assert set(entry) == set(DeviceConfig.model_fields) - {"name"}


def test_the_include_example_loads_as_one_config(tmp_path: Path) -> None:
    pytest.importorskip("bec_device_server")
    from bec_device_server.config import load_device_file

    files = yaml_files()
    assert "beamline.yaml" in files and "!include" in files["beamline.yaml"]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    devices = load_device_file(tmp_path / "beamline.yaml")
    included = {n for name, text in files.items() if name != "beamline.yaml" for n in yaml.safe_load(text)}
    assert set(devices) == included
