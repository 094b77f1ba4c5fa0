"""Scan plugins from the ``bec.scans`` entry-point group (issue 15.5), with real processes.

The example plugin of docs/scans.md and three broken ones are installed into a
directory on the scan server's PYTHONPATH; the server must offer the example's
scans and run them, raise an alarm naming each broken plugin, and pick up a
changed plugin on ``reload_scans``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bec_scan_server.publisher import WARNING
from plugin_site import install, install_example
from ss_harness import (
    Recorder,
    all_endpoints,
    device_server,
    request,
    scan_id_of,
    scan_server,
    submit,
    wait_services,
    write_devices,
)

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ServiceRequestMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_server import RedisServer

DUPLICATE = '''
from bec_scan_server.scans.base import ScanBase


class MyLineScan(ScanBase):
    """Claims a built-in name."""

    scan_name = "line_scan"


class BadName(ScanBase):
    """A name a client cannot call."""

    scan_name = "bad-name"
'''


@pytest.fixture(scope="module")
def plugin_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("plugin-stack")
    site = tmp / "site"
    install_example(site)
    install(
        site,
        "broken-scans",
        {"broken": "broken_scans.scans"},
        {"broken_scans": {"__init__.py": "", "scans.py": "import a_module_that_does_not_exist\n"}},
    )
    install(
        site,
        "clashing-scans",
        {"clashing": "clashing_scans.scans"},
        {"clashing_scans": {"__init__.py": "", "scans.py": DUPLICATE}},
    )
    install(
        site,
        "stock-style-scans",
        {"stock_style": "stock_style_scans.scans"},
        {
            "stock_style_scans": {
                "__init__.py": "",
                "scans.py": "from bec_server.scan_server.scans.grid_scan import GridScan, scan_hook\n",
            }
        },
    )
    redis = RedisServer(persistence="none", data_dir=tmp, log_file=tmp / "redis.log").start()
    env = {"url": redis.url, "redis": redis, "tmp": tmp, "site": site}
    try:
        yield env
    finally:
        for proc in (env.get("ss"), env.get("ds")):
            if proc is not None:
                proc.stop()
        redis.stop()


@pytest.fixture
async def conn(plugin_stack: dict[str, Any]) -> AsyncIterator[AsyncRedisConnector]:
    connector = await AsyncRedisConnector(plugin_stack["url"]).connect()
    try:
        yield connector
    finally:
        await connector.close()


@pytest.fixture
async def rec(conn: AsyncRedisConnector, plugin_stack: dict[str, Any]) -> Recorder:
    """Follows everything, then starts the servers (once per module), so start-up alarms are seen."""
    recorder = await Recorder(conn).follow(**all_endpoints(), available=MessageEndpoints.available_scans())
    if "ss" not in plugin_stack:
        tmp = plugin_stack["tmp"]
        plugin_stack["ds"] = device_server(
            plugin_stack["url"], write_devices(tmp / "devices.yaml"), tmp
        ).start()
        env = {"PYTHONPATH": str(plugin_stack["site"])}
        plugin_stack["ss"] = scan_server(plugin_stack["url"], tmp, env=env).start()
        await wait_services(conn, ["ScanServer", "DeviceServer"])
        plugin_stack["startup_alarms"] = await recorder.wait_for(
            lambda: len(recorder.msgs["alarm"]) >= 4 and list(recorder.msgs["alarm"]),
            "start-up plugin alarms",
        )
    return recorder


def _texts(alarms: list[Any]) -> str:
    return "\n".join(a.info.compact_error_message for a in alarms)


async def test_plugin_scans_are_offered(conn, rec, plugin_stack):
    available = (await conn.get(MessageEndpoints.available_scans())).resource
    assert {"zigzag_scan", "repeat_acquire", "line_scan", "grid_scan"} <= set(available)
    zigzag = available["zigzag_scan"]
    assert zigzag["class"] == "ZigzagScan" and zigzag["arg_bundle_size"]["bundle"] == 0
    assert [p["name"] for p in zigzag["signature"]][:4] == ["motor", "start", "stop", "steps"]
    assert zigzag["doc"].splitlines()[0].startswith("Visit ``steps`` points")
    assert "bad-name" not in available
    assert available["line_scan"]["class"] == "LineScan"  # the built-in, not the plugin's


async def test_plugin_scans_run(conn, rec):
    msg = request("zigzag_scan", ["samx", -1, 1], steps=5, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "zigzag_scan closed")
    visited = [s.data["samx"]["samx"]["value"] for s in rec.segments(scan_id)]
    np.testing.assert_allclose(visited, [-1, 1, -0.5, 0.5, 0], atol=0.05)
    repeat = request("repeat_acquire", [3, 0.01])
    assert (await submit(conn, rec, repeat)).accepted
    repeat_id = await scan_id_of(rec, repeat.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(repeat_id), "repeat_acquire closed")
    assert [s.point_id for s in rec.segments(repeat_id)] == [0, 1, 2]


async def test_bad_plugins_raise_alarms_naming_them(conn, rec, plugin_stack):
    alarms = plugin_stack["startup_alarms"]
    text = _texts(alarms)
    assert "broken (broken_scans.scans): cannot be imported: ModuleNotFoundError" in text
    assert "clashing (clashing_scans.scans)" in text and "'line_scan' exists already" in text
    assert "'bad-name' is not a Python identifier" in text
    assert "stock_style (stock_style_scans.scans): cannot be imported" in text  # no bec_server here
    assert all(a.severity == WARNING for a in alarms)
    assert {a.metadata["plugin"] for a in alarms} >= {
        "broken (broken_scans.scans)",
        "clashing (clashing_scans.scans)",
    }


async def test_reload_scans_picks_up_a_changed_plugin(conn, rec, plugin_stack):
    module = Path(plugin_stack["site"]) / "example_scans" / "scans.py"
    module.write_text(
        module.read_text()
        + '''

class SecondZigzag(ZigzagScan):
    """The zigzag again, under a second name."""

    scan_name = "zigzag_scan_2"
'''
    )
    before = len(rec.msgs["available"])
    await conn.send(MessageEndpoints.service_request(), ServiceRequestMessage(action="reload_scans"))
    published = await rec.wait_for(
        lambda: len(rec.msgs["available"]) > before and rec.msgs["available"][-1],
        "available_scans republished",
    )
    assert {"zigzag_scan", "zigzag_scan_2", "line_scan"} <= set(published.resource)
    msg = request("zigzag_scan_2", ["samx", 0, 1], steps=2, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "the reloaded scan runs")
