"""Two instructions of a scan's life cycle sent together: the second waits on the device server.

``pre_scan`` with ``stage``, ``unstage`` with ``complete``, both in one write: the second
carries ``metadata["after"]`` (docs/decisions/0001, "Points sent ahead"), so the
device server runs it once the first one's action is done and not at all if that
failed. One round trip and one write instead of two; the order on the devices is the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bec_core.messages import ScanStatusMessage
from bec_scan_server.instructions import Call, InstructionClient, Pending
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
    """Publish ``opening`` in the write of ``stage`` and ``pre_scan`` (just ahead of them), then wait
    for both."""
    meta = ctx.base_metadata()
    first, second = await instructions.send_in_order(
        [Call(staged, "stage", {}, meta), Call(staged, "pre_scan", {}, meta)],
        publisher=publisher,
        before=scan_status_commands(opening, expiry),
    )
    await wait_in_order(instructions, first, second)


async def complete_and_unstage(
    instructions: InstructionClient,
    ctx: ScanContext,
    completing: list[str],
    staged: list[str],
    timeout: float,
) -> None:
    """``complete``, and ``unstage`` behind it (after a failed complete the clean-up unstages)."""
    meta = ctx.base_metadata()
    first, second = await instructions.send_in_order(
        [Call(completing, "complete", {}, meta, timeout), Call(staged, "unstage", {}, meta)]
    )
    await wait_in_order(instructions, first, second)


async def wait_in_order(instructions: InstructionClient, first: Pending, second: Pending) -> None:
    """Wait for both replies (the second is withdrawn if the first fails)."""
    try:
        await instructions.wait(first)
    except BaseException:
        instructions.forget(second)
        raise
    await instructions.wait(second)


__all__ = ["complete_and_unstage", "stage_and_prepare", "wait_in_order"]
