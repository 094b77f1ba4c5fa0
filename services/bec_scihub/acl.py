"""ACL accounts and public login information (what a stock ACL client reads at login).

Stock SciHub writes, from ``ACL LIST`` / ``ACL GETUSER``, every enabled user except
``default`` and ``bec`` to ``admin/acl/accounts`` (:class:`ACLAccountsMessage`) and
their names to ``public/acl/login_info`` (:class:`LoginInfoMessage`, no Atlas login).
``bec_lib.acl_login.BECAccess`` reads the latter as the ``default`` user, asks for the
account's token and authenticates with it. We do the same, and re-read the ACLs
periodically so that accounts added at run time appear without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from redis.exceptions import NoPermissionError, RedisError, ResponseError

from bec_core.endpoints import MessageEndpoints
from bec_core.errors import ConnectorError
from bec_core.messages import ACLAccountsMessage, LoginInfoMessage
from bec_core.redis_connector import AsyncRedisConnector

log = logging.getLogger(__name__)

#: Accounts never offered for login: the anonymous user and the services' own account.
HIDDEN_ACCOUNTS = frozenset({"default", "bec"})
#: Profiles stock gives its test accounts (no ACL rule carries a profile).
PROFILES = {"user": "user_write", "admin": "su_write"}
AccountField = Literal["categories", "keys", "channels", "commands", "profile"]
AccountEntry = dict[AccountField, list[str] | str]
_FIELDS: tuple[AccountField, ...] = ("categories", "keys", "channels", "commands")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def account_entry(name: str, user: dict[str, Any]) -> AccountEntry:
    """The ``ACLAccountsMessage`` entry of one user from redis-py's ``acl_getuser`` reply."""
    entry: AccountEntry = {
        field: [_text(v) for v in user.get(field) or []] for field in _FIELDS if field in user
    }
    if name in PROFILES:
        entry["profile"] = PROFILES[name]
    return entry


class AclPublisher:
    """Publishes the ACL accounts and the login info; :meth:`run` keeps them current."""

    def __init__(self, connector: AsyncRedisConnector, refresh_s: float) -> None:
        self.connector = connector
        self.refresh_s = refresh_s
        self.accounts: dict[str, AccountEntry] | None = None

    async def read_accounts(self) -> dict[str, AccountEntry] | None:
        """The loginable accounts, or ``None`` if this user may not read the ACLs."""
        redis = self.connector.redis
        try:
            names = sorted(_text(n) for n in await redis.acl_users())
            accounts = {}
            for name in names:
                if name in HIDDEN_ACCOUNTS:
                    continue
                user = await redis.acl_getuser(name)
                if user and user.get("enabled"):
                    accounts[name] = account_entry(name, user)
        except (NoPermissionError, ResponseError) as exc:
            log.warning(
                "cannot read the Redis ACLs as %r (%s): no login information is published",
                self.connector.username or "default",
                exc,
            )
            return None
        return accounts

    async def publish(self) -> bool:
        """Read the ACLs and publish them if they changed; True if something was written."""
        accounts = await self.read_accounts()
        if accounts is None or accounts == self.accounts:
            return False
        pipe = self.connector.pipeline()
        await self.connector.set(
            MessageEndpoints.acl_accounts(), ACLAccountsMessage(accounts=accounts), pipe=pipe
        )
        await self.connector.set(
            MessageEndpoints.login_info(),
            LoginInfoMessage(host="", deployment="", available_accounts=list(accounts), atlas_login=False),
            pipe=pipe,
        )
        await self.connector.execute_pipeline(pipe)
        if self.accounts is not None:
            log.info("ACL accounts changed: %s", ", ".join(accounts) or "(none)")
        self.accounts = accounts
        return True

    async def run(self) -> None:
        """Re-read the ACLs every ``refresh_s`` seconds (until cancelled); Redis trouble is logged."""
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.publish()
            except (RedisError, ConnectorError) as exc:
                log.warning("ACL refresh failed (%s); retrying in %g s", exc, self.refresh_s)
