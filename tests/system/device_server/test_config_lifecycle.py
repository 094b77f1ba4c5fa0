"""The device config lives in Redis, as in stock BEC; bad configs at start; real processes throughout.

* ``bec-device-server`` restarted without ``--config`` after runtime changes from stock
  bec_lib's ``ConfigHelper`` builds the changed config again; the history lists the sets.
* ``bec-server start`` without ``--config`` restores the same way.
* ``--config`` resolves ``!include`` as bec_lib's loader does.
* every device failing to build is exit status 2 with one line naming them (unless
  ``--start-without-devices``); some failing are named in one warning.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_py
import yaml

from bec_core.redis_server import RedisServer
from bec_core.serialization import loads

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
TEST_DEVICES = ROOT / "config" / "devices" / "test.yaml"
DEADLINE = 30.0
POLL_S = 0.05  # pace of the deadline-bounded polls of a key nothing announces


def broken(name: str, fail: str = "init") -> dict[str, Any]:
    return {
        "deviceClass": "bec_device_server.sim.testing.SimFailing",
        "deviceConfig": {"fail_on": [fail]},
        "readoutPriority": "monitored",
        "enabled": True,
        "connectionTimeout": 1,
    }


class Service:
    """One entry point as a process, its output in a file."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=dict(os.environ)
            )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_key(client: redis_py.Redis, key: str, accept: Any, what: str, proc: Service | None = None) -> Any:
    """The decoded value of ``key`` once ``accept(value)`` holds (deadline DEADLINE)."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        raw = client.get(key)
        value = loads(raw) if raw else None
        if value is not None and accept(value):
            return value
        if proc is not None and proc.proc.poll() is not None:
            raise AssertionError(f"exited with {proc.proc.returncode} waiting for {what}:\n{proc.output()}")
        time.sleep(POLL_S)
    raise AssertionError(f"timed out after {DEADLINE} s waiting for {what}")


def running(client: redis_py.Redis, service: str, proc: Service | None = None) -> None:
    wait_key(
        client, f"user/services/status/{service}", lambda m: m.status.value == 2, f"{service} RUNNING", proc
    )


def stored(client: redis_py.Redis) -> dict[str, dict[str, Any]] | None:
    raw = client.get("info/devices/config")
    return None if raw is None else {d["name"]: d for d in loads(raw).resource}


def history(client: redis_py.Redis) -> list[Any]:
    return [loads(raw) for raw in client.lrange("info/devices/config_history", 0, -1)]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(persistence="none", data_dir=tmp_path, log_file=tmp_path / "redis.log").start()
    yield server
    server.stop()


def device_server(url: str, log: Path, *args: str) -> Service:
    return Service([str(BIN / "bec-device-server"), "--redis", url, *args], log)


def test_restart_without_config_restores_runtime_changes_from_stock_config_helper(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    from bec_lib.config_helper import ConfigHelper
    from bec_lib.redis_connector import RedisConnector

    client = redis_py.Redis.from_url(redis_server.url)
    small = tmp_path / "small.yaml"
    raw = yaml.safe_load(TEST_DEVICES.read_text())
    small.write_text(yaml.safe_dump({n: raw[n] for n in ("samx", "samy", "bpm4i")}))
    ds = device_server(redis_server.url, tmp_path / "ds1.log", "--config", str(TEST_DEVICES))
    ss = Service([str(BIN / "bec-scan-server"), "--redis", redis_server.url], tmp_path / "ss.log")
    stock = RedisConnector(redis_server.address)
    try:
        running(client, "DeviceServer", ds)
        running(client, "ScanServer", ss)
        helper = ConfigHelper(stock)
        helper.update_session_with_file(str(small), save_recovery=False, force=True)  # a set
        helper.send_config_request(
            "update",
            {"samx": {"deviceConfig": {"limits": [-7, 7]}, "userParameter": {"in": 1.5}}},
            timeout_s=DEADLINE,
        )
        assert ds.stop() == 0
        client.delete("user/services/status/DeviceServer", "info/devices/limits/samx")
        ds = device_server(redis_server.url, tmp_path / "ds2.log")  # no --config
        running(client, "DeviceServer", ds)
        config = stored(client)
        assert config is not None and set(config) == {"samx", "samy", "bpm4i"}
        assert config["samx"]["userParameter"] == {"in": 1.5}
        assert config["samx"]["deviceConfig"]["limits"] == [-7, 7]
        assert config["samx"]["deviceConfig"]["tolerance"] == 0.01  # the merged keys stay
        limits = wait_key(client, "info/devices/limits/samx", lambda m: True, "samx limits", ds)
        assert (limits.signals["low"]["value"], limits.signals["high"]["value"]) == (-7.0, 7.0)
        assert "restoring the stored device config (3 devices" in ds.output()
        from bec_lib.endpoints import MessageEndpoints as StockEndpoints

        kept = stock.lrange(StockEndpoints.device_config_history(), 0, -1)  # as a stock client reads it
        assert len(kept) == 1 and {d["name"] for d in kept[0].content["resource"]} == set(raw)
        assert kept[0].metadata["action"] == "set" and kept[0].metadata["removed_at"] > 0
        assert [h.metadata["RID"] for h in history(client)] == [kept[0].metadata["RID"]]
    finally:
        stock.shutdown()
        ds.stop()
        ss.stop()
        client.close()


def test_bec_server_start_without_config_restores(redis_server: RedisServer, tmp_path: Path) -> None:
    from bec_lib.config_helper import ConfigHelper
    from bec_lib.redis_connector import RedisConnector

    where = ["--redis", redis_server.address, "--state-dir", str(tmp_path / "state")]

    def bec_server(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "bec-server"), *args, *where], capture_output=True, text=True, timeout=120
        )

    client = redis_py.Redis.from_url(redis_server.url)
    stock = RedisConnector(redis_server.address)
    try:
        first = bec_server("start")
        assert first.returncode == 0, first.stdout + first.stderr
        demo = yaml.safe_load((ROOT / "config" / "devices" / "demo.yaml").read_text())
        assert set(stored(client) or {}) == set(demo)  # a fresh Redis: the checkout's demo config
        ConfigHelper(stock).send_config_request(
            "update", {"samx": {"description": "restored after restart"}}, timeout_s=DEADLINE
        )
        again = bec_server("restart")
        assert again.returncode == 0, again.stdout + again.stderr
        assert (stored(client) or {})["samx"]["description"] == "restored after restart"
        log = (tmp_path / "state" / "logs" / "device-server.log").read_text()
        assert "restoring the stored device config" in log and "--initial-config" not in again.stdout
    finally:
        stock.shutdown()
        bec_server("stop")
        client.close()


def test_config_file_includes_other_files(redis_server: RedisServer, tmp_path: Path) -> None:
    raw = yaml.safe_load(TEST_DEVICES.read_text())
    (tmp_path / "motors").mkdir()
    (tmp_path / "motors" / "stages.yaml").write_text(
        yaml.safe_dump({"samx": raw["samx"], "samy": raw["samy"]})
    )
    (tmp_path / "monitors.yaml").write_text(yaml.safe_dump({"bpm4i": raw["bpm4i"]}))
    main = tmp_path / "beamline.yaml"
    main.write_text(
        "motors: !include motors/stages.yaml\n"
        "detectors:\n  - !include monitors.yaml\n" + yaml.safe_dump({"bpm4a": raw["bpm4a"]})
    )
    client = redis_py.Redis.from_url(redis_server.url)
    ds = device_server(redis_server.url, tmp_path / "ds.log", "--config", str(main))
    try:
        running(client, "DeviceServer", ds)
        assert set(stored(client) or {}) == {"samx", "samy", "bpm4i", "bpm4a"}
    finally:
        assert ds.stop() == 0
        client.close()


def test_every_device_failing_is_exit_2_naming_them(redis_server: RedisServer, tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text(
        yaml.safe_dump({"mot1": broken("mot1"), "mot2": broken("mot2"), "ioc": broken("ioc", "connect")})
    )
    client = redis_py.Redis.from_url(redis_server.url)
    try:
        result = subprocess.run(
            [str(BIN / "bec-device-server"), "--redis", redis_server.url, "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, result.stdout + result.stderr
        lines = [line for line in (result.stdout + result.stderr).splitlines() if "no usable device" in line]
        assert len(lines) == 1, result.stderr
        assert "mot1, mot2: SimulatedFailure" in lines[0] and "ioc: DeviceConnectionError" in lines[0]
        assert "--start-without-devices" in lines[0]
        assert stored(client) is None  # a refused start writes no config

        ds = device_server(
            redis_server.url, tmp_path / "ds.log", "--config", str(config), "--start-without-devices"
        )
        running(client, "DeviceServer", ds)
        assert ds.stop() == 0
        assert all(d["enabled"] is False for d in (stored(client) or {}).values())
    finally:
        client.close()


def test_some_devices_failing_are_named_at_start(redis_server: RedisServer, tmp_path: Path) -> None:
    raw = yaml.safe_load(TEST_DEVICES.read_text())
    config = tmp_path / "some.yaml"
    config.write_text(
        yaml.safe_dump({"samx": raw["samx"], "mot1": broken("mot1"), "ioc": broken("ioc", "connect")})
    )
    client = redis_py.Redis.from_url(redis_server.url)
    ds = device_server(redis_server.url, tmp_path / "ds.log", "--config", str(config))
    try:
        running(client, "DeviceServer", ds)
        warnings = [line for line in ds.output().splitlines() if "failed to build and are disabled" in line]
        assert len(warnings) == 1 and "2 of 3 devices" in warnings[0]
        assert "mot1: SimulatedFailure" in warnings[0] and "ioc: DeviceConnectionError" in warnings[0]
    finally:
        assert ds.stop() == 0
        client.close()
