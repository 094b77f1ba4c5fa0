"""Waiting on Redis state that has no event of its own (e.g. XPENDING counts), with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

POLL_S = 0.01


async def until(check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
    """True as soon as ``check()`` is true; False once ``timeout`` seconds have passed.

    Only for state that nothing announces: the check runs again every POLL_S
    seconds until it holds or the deadline passes, so the test still waits on
    the state itself, never on a fixed delay.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(POLL_S)
    return True
