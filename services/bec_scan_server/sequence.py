"""Two instructions of a scan's life cycle sent back to back: the second waits on the device server.

``pre_scan`` right behind ``stage``, ``unstage`` right behind ``complete``: the second
carries ``metadata["after"]`` (docs/decisions/0001, "Points sent ahead"), so the
device server runs it once the first one's action is done and not at all if that
failed. One round trip instead of two; the order on the devices is the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bec_core.messages import ScanStatusMessage
from bec_scan_server.instructions import InstructionClient, Pending
from bec_scan_server.publisher import DataPublisher, scan_status_commands

if TYPE_CHECKING:
    from bec_scan_server.context import ScanContext


async def stage_and_prepare(
    instructions: InstructionClient,
    publisher: DataPublisher,
    ctx: ScanContext,
    staged: list[str],
    opening: ScanStatusMessage,
    expiry: int,
) -> None:
    """Publish ``opening`` in the stage instruction's write (just ahead of it), stage, then
    ``pre_scan`` behind it."""
    meta = ctx.base_metadata()
    before = scan_status_commands(opening, expiry)
    await in_order(
        instructions,
        await instructions.send(staged, "stage", {}, meta, publisher=publisher, before=before),
        lambda first: instructions.send(
            staged, "pre_scan", {}, {**meta, "after": first.instr_id}, extra_wait=first.timeout
        ),
    )


async def complete_and_unstage(
    instructions: InstructionClient,
    ctx: ScanContext,
    completing: list[str],
    staged: list[str],
    timeout: float,
) -> None:
    """``complete``, and ``unstage`` behind it (after a failed complete the clean-up unstages)."""
    meta = ctx.base_metadata()
    await in_order(
        instructions,
        await instructions.send(completing, "complete", {}, meta, timeout=timeout),
        lambda first: instructions.send(
            staged, "unstage", {}, {**meta, "after": first.instr_id}, extra_wait=first.timeout
        ),
    )


async def in_order(
    instructions: InstructionClient, first: Pending, send_next: Callable[[Pending], Awaitable[Pending]]
) -> None:
    """Send the second instruction while the first runs; wait for both (the second is withdrawn if the
    first fails)."""
    try:
        second = await send_next(first)
    except BaseException:
        instructions.forget(first)
        raise
    try:
        await instructions.wait(first)
    except BaseException:
        instructions.forget(second)
        raise
    await instructions.wait(second)


__all__ = ["complete_and_unstage", "in_order", "stage_and_prepare"]
