"""Our published ``device_info`` has stock BEC's shape, class by class of bec_lib's demo config.

The reference is ``tests/data/device_info/stock_device_info.json``, recorded from stock
BEC 4.3.2's device server by ``tests/data/device_info/regenerate.py``. The device server
runs in-process against a real Redis with the *whole* demo config (216 devices, every
one built from the real ``ophyd_devices`` classes); for one device of each class the
structure (keys at every level, and the type of every value) must equal stock's. Values
that legitimately differ (timestamps, values, doc texts, sources) are compared by type.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bec_lib
import yaml

from bec_core.endpoints import MessageEndpoints

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "device_info" / "stock_device_info.json"
DEMO_CONFIG = Path(bec_lib.__file__).parent / "configs" / "demo_config.yaml"
STOCK = json.loads(REFERENCE.read_text())


def demo_devices() -> dict[str, Any]:
    """bec_lib's demo config, every device enabled (as ``load_demo_config`` does)."""
    raw = yaml.safe_load(DEMO_CONFIG.read_text())
    return {name: {**dev, "enabled": True} for name, dev in raw.items()}


def shape(value: Any) -> Any:
    """The structure of ``value``: dicts by key, lists item by item, scalars as a type name."""
    if isinstance(value, dict):
        return {str(k): shape(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [shape(v) for v in value]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)) or type(value).__module__ == "numpy":
        return "number"
    if value is None:
        return "none"
    return type(value).__name__


def differences(ours: Any, stock: Any, path: str = "") -> list[str]:
    """Where the two shapes differ (missing / extra keys, other types)."""
    if isinstance(stock, dict) and isinstance(ours, dict):
        out = [f"{path}.{k}: missing" for k in stock.keys() - ours.keys()]
        out += [f"{path}.{k}: not in stock's" for k in ours.keys() - stock.keys()]
        for key in stock.keys() & ours.keys():
            out += differences(ours[key], stock[key], f"{path}.{key}")
        return out
    if isinstance(stock, list) and isinstance(ours, list):
        if len(stock) != len(ours):
            return [f"{path}: {len(ours)} items, stock {len(stock)}"]
        return [
            d
            for i, (a, b) in enumerate(zip(ours, stock, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    if ours != stock and "none" not in (ours, stock):  # a None where stock has a value (or back) is a value
        return [f"{path}: {ours} where stock has {stock}"]
    return []


async def test_demo_config_builds_from_real_classes_with_stocks_device_info(
    start_server: Any, stop_servers: None, conn: Any
) -> None:
    import ophyd_devices

    server = await start_server(demo_devices(), device_action=30.0)
    entries = server.devices.entries
    assert len(entries) == 216 and all(e.enabled for e in entries.values())
    classes = {type(e.obj) for e in entries.values()}
    assert len(classes) == 13 and all(c.__module__.startswith("ophyd_devices.") for c in classes)
    assert type(entries["samx"].obj) is ophyd_devices.SimPositioner

    problems: dict[str, Any] = {}
    for device_class, recorded in sorted(STOCK.items()):
        name = recorded["device"]
        msg = await conn.get(MessageEndpoints.device_info(name))
        assert msg is not None and msg.device == name
        ours, stock = msg.info, recorded["info"]
        found = [
            f"{key}: {ours[key]!r} where stock has {stock[key]!r}"
            for key in ("device_class", "device_base_class", "ownership_mode")
            if ours[key] != stock[key]
        ]
        for key in ("signals", "custom_user_access"):
            if sorted(ours[key]) != sorted(stock[key]):
                found.append(f"{key}: {sorted(ours[key])} where stock has {sorted(stock[key])}")
        found += differences(shape(ours), shape(stock))
        if found:
            problems[f"{device_class} ({name})"] = found
    assert problems == {}
