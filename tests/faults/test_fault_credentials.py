"""Defect 8 of issue 11 (last part): a credential refusal's hint says what to change.

Before, ``bec status`` against a Redis that wants a password said "refused user
'default': Authentication required.; start the stack with `bec-server start`":
the stack was running, only the credentials were missing. Now the text says
which credentials were sent (none, a user without a password, a user with a
password) and names the settings to give them, never the password, and never
suggests starting the stack.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bec_core.errors import RedisCredentialsError
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_server import RedisServer

pytestmark = pytest.mark.system

BEC = str(Path(sys.executable).parent / "bec")


def _bec_status(redis: RedisServer, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BEC_REDIS_")}
    return subprocess.run(
        [BEC, "--redis", redis.address, "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "requires a user and password and none was given"),
        ({"BEC_REDIS_USERNAME": "bec"}, "refused user 'bec', sent without a password"),
        (
            {"BEC_REDIS_USERNAME": "bec", "BEC_REDIS_PASSWORD": "wrong"},
            "refused user 'bec' with the password given",
        ),
    ],
)
def test_the_client_says_which_credentials_to_change(acl_redis: RedisServer, env, expected) -> None:
    result = _bec_status(acl_redis, **env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert expected in output, output
    assert "BEC_REDIS_PASSWORD" in output, output
    assert "bec-server start" not in output, output  # the stack runs: starting it would not help
    assert "wrong" not in output.replace("--password", "")  # the password is never printed


def test_the_right_credentials_pass_the_check(acl_redis: RedisServer) -> None:
    result = _bec_status(acl_redis, BEC_REDIS_USERNAME="bec", BEC_REDIS_PASSWORD="s3cret")
    output = result.stdout + result.stderr
    assert "refused" not in output and "requires a user" not in output, output


async def test_the_connector_raises_a_credentials_error(acl_redis: RedisServer) -> None:
    conn = AsyncRedisConnector(acl_redis.address, username="bec", password="nope")
    try:
        with pytest.raises(RedisCredentialsError, match="refused user 'bec' with the password given"):
            await conn.connect()
    finally:
        await conn.close()
