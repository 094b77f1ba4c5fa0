"""The stock adapter's parts that need neither stock bec_server nor Redis (docs/decisions/0006)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from bec_scan_server.stock_adapter.bridge import PointAssembler
from bec_scan_server.stock_adapter.declare import HostedScan, flat_args
from bec_scan_server.stock_adapter.host import DeviceLockRegistry, StockHostError, bootstrap_address
from bec_scan_server.stock_adapter.paths import add_plugin_paths
from bec_scan_server.validation import RequestError, build


class StockLikeGrid:
    """Shaped like a stock grid scan: bundles of 4, at least 2, a required keyword ``relative``."""

    scan_name = "stock_like_grid"
    arg_bundle_size = {"bundle": 4, "min": 2, "max": None}

    def __init__(self, *args: Any, relative: bool, exp_time: float = 0, **kwargs: Any) -> None:
        self.args = args


Hosted = type(
    "HostedStockLikeGrid", (HostedScan,), {"scan_name": "stock_like_grid", "stock_class": StockLikeGrid}
)


def test_a_request_is_checked_against_the_stock_constructor():
    scan = build(
        Hosted,
        {"args": ["samx", -1, 1, 3, "samy", -1, 1, 2], "kwargs": {"relative": True, "system_config": {}}},
    )
    assert isinstance(scan, HostedScan)
    assert scan.motors() == ["samx", "samy"] and scan.args[4] == "samy"
    assert scan.bound.client == {"system_config": {}} and scan.kw == {"relative": True}
    assert scan.relative is False  # positions come from the stock instance, absolute already
    assert scan.num_points() == 0 and scan.report_instructions() == []  # until the instance exists


@pytest.mark.parametrize(
    ("parameter", "text"),
    [
        ({"args": ["samx", -1, 1], "kwargs": {"relative": True}}, "groups of 4"),
        ({"args": ["samx", -1, 1, 3], "kwargs": {"relative": True}}, "at least 2"),
        ({"args": ["samx", -1, 1, 3, "samy", -1, 1, 2], "kwargs": {}}, "relative"),
        ({"args": [1, -1, 1, 3, "samy", -1, 1, 2], "kwargs": {"relative": True}}, "not a device name"),
        ({"args": "samx", "kwargs": {}}, "'args' must be a list"),
        ("nonsense", "'parameter' must be a dict"),
    ],
)
def test_bad_requests_are_refused_naming_the_scan(parameter, text):
    with pytest.raises(RequestError, match=text) as info:
        build(Hosted, parameter)
    assert str(info.value).startswith("stock_like_grid")


def test_args_given_as_a_device_map_are_flattened():
    assert flat_args({"samx": [-1, 1, 3], "samy": [0, 2, 2]}) == ["samx", -1, 1, 3, "samy", 0, 2, 2]
    assert flat_args(None) == [] and flat_args(["samx", 1]) == ["samx", 1]


class _Points:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish_point(self, data: dict[str, Any]) -> None:
        self.published.append(data)


def test_points_are_published_in_point_order_whatever_order_the_reads_finish():
    ctx = _Points()
    points = PointAssembler(ctx)  # type: ignore[arg-type]
    points.add(1, {"p": 1})
    points.add(2, {"p": 2})
    assert ctx.published == [] and points.waiting == 2
    points.add(0, {"p": 0})
    assert [d["p"] for d in ctx.published] == [0, 1, 2] and points.waiting == 0


def test_the_lock_registry_records_what_a_request_owns():
    registry = DeviceLockRegistry()
    assert registry.acquire_many("rid", devices=["samy", "samx", "samx"]) == ["samx", "samy"]
    registry.acquire_many("rid", devices={"waveform"})
    assert registry.get_owned_devices("rid") == {"samx", "samy", "waveform"}
    assert registry.get_pending_devices("rid") == []
    assert registry.release_all("rid") == ["samx", "samy", "waveform"] and not registry.get_owned_devices(
        "rid"
    )


def test_stock_bec_lib_gets_host_and_port():
    assert bootstrap_address("redis://127.0.0.1:23201") == "127.0.0.1:23201"
    assert bootstrap_address("localhost:6379") == "localhost:6379"
    with pytest.raises(StockHostError, match="redis://host:port"):
        bootstrap_address("unix:///tmp/redis.sock")
    with pytest.raises(StockHostError, match="credentials"):
        bootstrap_address("redis://user:secret@host:6379")


def test_plugin_paths_are_appended_after_our_own(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    first = sys.path[0]
    assert add_plugin_paths([tmp_path, tmp_path / "missing"]) == [str(tmp_path)]
    assert sys.path[-1] == str(tmp_path) and sys.path[0] == first
    assert add_plugin_paths([tmp_path]) == []  # once only


def test_plugin_paths_come_from_the_settings_file_or_the_environment(tmp_path: Path):
    import os

    from bec_core.config import load_settings

    env = {"BEC_SCAN_PLUGIN_PATHS": os.pathsep.join(["/opt/bec-stock", "/opt/other"])}
    assert load_settings(None, env=env).scan_server.plugin_paths == [
        Path("/opt/bec-stock"),
        Path("/opt/other"),
    ]
    config = tmp_path / "services.yaml"
    config.write_text("scan_server:\n  plugin_paths: [/opt/bec-stock]\n")
    assert load_settings(config, env={}).scan_server.plugin_paths == [Path("/opt/bec-stock")]


class StockLikeSpiral:
    """Shaped like a stock scan without bundles (fermat-like): named positional inputs."""

    scan_name = "stock_like_spiral"
    arg_bundle_size = {"bundle": 0, "min": None, "max": None}

    def __init__(self, motor1: str, motor2: str, start: float, step: float = 0.1, **kwargs: Any) -> None:
        self.motor1 = motor1


HostedSpiral = type(
    "HostedStockLikeSpiral", (HostedScan,), {"scan_name": "stock_like_spiral", "stock_class": StockLikeSpiral}
)


def test_named_inputs_of_a_scan_without_bundles_are_recorded_as_stock_records_them():
    scan = build(HostedSpiral, {"args": ["samx", "samy", 1.0], "kwargs": {"step": 0.5, "system_config": {}}})
    assert [a.name for a in scan.positional] == ["motor1", "motor2", "start"]  # request_inputs["inputs"]
    assert scan.kw == {"motor1": "samx", "motor2": "samy", "start": 1.0, "step": 0.5}
    assert scan.args == ["samx", "samy", 1.0] and scan.kwargs == {"step": 0.5, "system_config": {}}
    with pytest.raises(RequestError, match="start"):
        build(HostedSpiral, {"args": ["samx", "samy"], "kwargs": {}})
