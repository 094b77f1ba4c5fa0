"""Device configuration in BEC's YAML format, validated with pydantic.

A file is a map ``{name: {deviceClass, deviceConfig, readoutPriority, enabled, ...}}``
(see ``reference/bec-4.3.2.md`` section 6.1). Every error is a
:class:`~bec_core.errors.ConfigError` naming the file (or other source), the
device and the field, e.g. ``config/devices/demo.yaml: device 'samx': field
'readoutPriority': Input should be 'monitored', 'baseline', ...``.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bec_core.errors import ConfigError

ReadoutPriority = Literal["monitored", "baseline", "async", "continuous", "on_request"]

#: Fields a config "update" may change (BEC's CONF.UPDATABLE).
UPDATABLE_FIELDS = frozenset(
    {
        "description",
        "deviceConfig",
        "deviceTags",
        "enabled",
        "onFailure",
        "readOnly",
        "readoutPriority",
        "softwareTrigger",
        "userParameter",
        "connectionTimeout",
    }
)
#: Updatable fields whose change needs the device object rebuilt.
REBUILD_FIELDS = frozenset({"deviceConfig", "enabled", "connectionTimeout"})


class DeviceConfig(BaseModel):
    """One device of a configuration (BEC's ``atlas_models.Device``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str
    deviceClass: str = Field(min_length=1)
    deviceConfig: dict[str, Any] | None = None
    readoutPriority: ReadoutPriority
    enabled: bool
    readOnly: bool = False
    softwareTrigger: bool = False
    onFailure: Literal["raise", "retry", "buffer"] = "retry"
    deviceTags: list[str] = Field(default_factory=list)
    userParameter: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    connectionTimeout: float = Field(default=5.0, gt=0)
    needs: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not value.isidentifier() or keyword.iskeyword(value):
            raise ValueError(f"{value!r} is not a valid device name (must be a Python identifier)")
        if value.startswith("_"):
            raise ValueError(f"device name {value!r} must not start with '_'")
        return value

    @field_validator("deviceTags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, (set, tuple, frozenset)):
            return sorted(value)
        return value

    @field_validator("userParameter", mode="before")
    @classmethod
    def _user_params(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("deviceConfig", mode="before")
    @classmethod
    def _device_config(cls, value: Any) -> Any:
        # stock stores a missing deviceConfig as {} (clients call _config["deviceConfig"].get)
        return {} if value is None else value

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> Any:
        return "" if value is None else value

    def as_dict(self) -> dict[str, Any]:
        """The device as a plain dict, as published in ``info/devices/config``."""
        return self.model_dump()


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(device)"


def validate_device(name: Any, raw: Any, source: str) -> DeviceConfig:
    """Validate one device entry; the error names ``source``, the device and the field."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{source}: device {name!r}: expected a mapping of fields, got {type(raw).__name__}"
        )
    data = dict(raw)
    if "name" in data and data["name"] != name:
        raise ConfigError(f"{source}: device {name!r}: field 'name': {data['name']!r} differs from the key")
    data["name"] = name
    try:
        return DeviceConfig.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{source}: device {name!r}: field {_field_path(err['loc'])!r}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
        raise ConfigError("\n".join(problems)) from None


def validate_devices(raw: Any, source: str) -> dict[str, DeviceConfig]:
    """Validate a ``{name: fields}`` map; all problems are reported together in one ConfigError."""
    devices, problems = validate_devices_lenient(raw, source)
    if problems:
        raise ConfigError("\n".join(problems.values()))
    return devices


def validate_devices_lenient(raw: Any, source: str) -> tuple[dict[str, DeviceConfig], dict[str, str]]:
    """Validate a ``{name: fields}`` map: (valid devices, error text by invalid device name).

    Raises ConfigError only if ``raw`` is not a map at all.
    """
    if raw is None:
        return {}, {}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{source}: expected a mapping of device names to devices, got {type(raw).__name__}"
        )
    devices: dict[str, DeviceConfig] = {}
    problems: dict[str, str] = {}
    for name, fields in raw.items():
        try:
            devices[str(name)] = validate_device(str(name), fields, source)
        except ConfigError as exc:
            problems[str(name)] = str(exc)
    return devices, problems


def read_device_file(path: Path | str) -> Any:
    """The parsed YAML of a device file, ``!include`` resolved (:mod:`.yaml_include`);
    ConfigError naming the file if it is missing or invalid."""
    from bec_device_server.yaml_include import load_yaml_with_includes

    return load_yaml_with_includes(path)


def load_device_file(path: Path | str) -> dict[str, DeviceConfig]:
    """Read and validate a device YAML file (every problem in one ConfigError)."""
    return validate_devices(read_device_file(path), str(path))


def devices_from_list(resource: Any, source: str) -> dict[str, DeviceConfig]:
    """Validate a list of device dicts with ``name`` (as stored in ``info/devices/config``)."""
    if isinstance(resource, Mapping):
        return validate_devices(resource, source)
    if not isinstance(resource, list):
        raise ConfigError(f"{source}: expected a list of devices, got {type(resource).__name__}")
    out: dict[str, Any] = {}
    for i, item in enumerate(resource):
        if not isinstance(item, Mapping) or "name" not in item:
            raise ConfigError(f"{source}: entry {i}: expected a device mapping with a 'name'")
        out[str(item["name"])] = {k: v for k, v in item.items() if k != "name"}
    return validate_devices(out, source)


__all__ = [
    "REBUILD_FIELDS",
    "UPDATABLE_FIELDS",
    "DeviceConfig",
    "devices_from_list",
    "load_device_file",
    "read_device_file",
    "validate_device",
    "validate_devices",
    "validate_devices_lenient",
]
