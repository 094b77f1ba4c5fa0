"""What Ctrl-C during a scan does, in the shell and in the CLI: ask, or abort and say so.

With a terminal to ask on, the user chooses: pause, resume, abort, or keep
watching. Without one (a script, a pipe) the scan is aborted on the server, so
that an interrupted command never leaves a scan running behind the user's back.
Each action is confirmed once the scan server answered it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bec_core.errors import BECError

if TYPE_CHECKING:
    from rich.console import Console

    from bec_core.client.client import BECClient
    from bec_core.client.report import ScanReport

INTERRUPT_PROMPT = "Scan interrupted: [p]ause, [r]esume, [a]bort, or Enter to keep watching? "


def _name(report: ScanReport) -> str:
    number = report.scan.scan_number
    return f"scan {number}" if number is not None else "the scan"


def ask_after_interrupt(
    client: BECClient, report: ScanReport, console: Console, ask: Callable[[str], str]
) -> str:
    """Ask what to do after Ctrl-C and do it; returns ``pause``, ``resume``, ``abort`` or ``watch``.

    A second Ctrl-C (or end of input) at the question aborts.
    """
    try:
        answer = ask(INTERRUPT_PROMPT).strip().lower()
    except (KeyboardInterrupt, EOFError):
        answer = "a"
    if answer.startswith("p"):
        client.queue.pause()
        state = client.queue.state
        console.print(f"[yellow]{_name(report)} paused[/] (queue {state}): Ctrl-C, then r to resume")
        return "pause"
    if answer.startswith("r"):
        client.queue.resume()
        console.print(f"[green]{_name(report)} resumed[/]")
        return "resume"
    if answer.startswith("a"):
        abort(client, report, console)
        return "abort"
    return "watch"


def abort(client: BECClient, report: ScanReport, console: Console) -> None:
    """Abort the report's scan on the server and say so (or say why there was nothing to abort)."""
    try:
        client.queue.abort()
    except BECError as exc:  # e.g. the scan ended meanwhile: nothing is running
        console.print(f"abort: {exc}")
        return
    console.print(f"[red]abort requested[/] for {_name(report)}")
