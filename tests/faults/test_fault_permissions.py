"""Defect 8 of issue 11 (part): a Redis user without scripting rights stops the device server with
exit code 2 and a text naming the user and the missing command, not a crash (exit 1)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bec_core.redis_server import RedisServer

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_scripting_redis(tmp_path: Path) -> Iterator[RedisServer]:
    acl = tmp_path / "users.acl"
    acl.write_text("user bec on >pw ~* &* +@all -@scripting\nuser default off\n")
    server = RedisServer(acl_file=acl, data_dir=tmp_path, log_file=tmp_path / "redis.log").start()
    yield server
    server.stop()


def test_device_server_without_scripting_exits_2_naming_the_command(no_scripting_redis: RedisServer) -> None:
    env = {**os.environ, "BEC_REDIS_USERNAME": "bec", "BEC_REDIS_PASSWORD": "pw"}
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "bec-device-server"),
            "--redis",
            no_scripting_redis.address,
            "--config",
            str(ROOT / "config" / "devices" / "test.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "'bec'" in output and "eval" in output.lower(), output[-3000:]
    assert "Traceback" not in output, output[-3000:]
