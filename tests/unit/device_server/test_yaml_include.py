"""``!include`` in device YAML: the same result as bec_lib's loader, and clear errors where it has none."""

from __future__ import annotations

from pathlib import Path

import pytest
from bec_device_server.config import read_device_file

from bec_core.errors import ConfigError

MOTOR = "{deviceClass: ophyd_devices.SimPositioner, readoutPriority: baseline, enabled: true}"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_groups_and_nested_includes_give_what_bec_lib_gives(tmp_path: Path) -> None:
    from bec_lib.bec_yaml_loader import yaml_load

    write(tmp_path / "sub" / "stages.yaml", f"samx: {MOTOR}\nmore: !include extra.yaml\n")
    write(tmp_path / "sub" / "extra.yaml", f"samz: {MOTOR}\n")
    write(tmp_path / "dets.yaml", f"samy: {MOTOR}\n")
    main = write(
        tmp_path / "main.yaml",
        f"first: {MOTOR}\nmotors: !include sub/stages.yaml\ngroup:\n  - !include dets.yaml\n",
    )
    ours = read_device_file(main)
    assert set(ours) == {"first", "samx", "samz", "samy"}
    assert ours == yaml_load(str(main))


def test_a_later_definition_wins(tmp_path: Path) -> None:
    write(
        tmp_path / "b.yaml",
        "samx: {deviceClass: ophyd_devices.SimPositioner, readoutPriority: monitored, enabled: true}\n",
    )
    main = write(tmp_path / "a.yaml", f"samx: {MOTOR}\nrest: !include b.yaml\n")
    assert read_device_file(main)["samx"]["readoutPriority"] == "monitored"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a.yaml": "x: !include b.yaml\n", "b.yaml": "y: !include a.yaml\n"}, "!include cycle"),
        ({"a.yaml": "x: !include nowhere.yaml\n"}, "nowhere.yaml is not a file"),
        (
            {"a.yaml": "x: !include b.yaml\n", "b.yaml": "- 1\n- 2\n"},
            "expected a mapping of devices, got list",
        ),
        (
            {"a.yaml": "samx:\n  deviceConfig: !include b.yaml\n", "b.yaml": "{}\n"},
            "only allowed as a top-level",
        ),
        ({"a.yaml": "x: !include [b.yaml]\n"}, "takes a file path"),
        ({"a.yaml": "x: !!python/object:os.system ls\n"}, "invalid YAML"),  # SafeLoader: no object tags
    ],
)
def test_bad_includes_are_config_errors_naming_the_file(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    for name, text in files.items():
        write(tmp_path / name, text)
    with pytest.raises(ConfigError, match=r"a\.yaml") as err:
        read_device_file(tmp_path / "a.yaml")
    assert expected in str(err.value)
