"""The ``bec`` IPython shell.

The namespace holds ``bec`` (the client), ``dev``, ``scans``, ``umv``, ``mv``,
``wm``. The prompt shows the next scan number. A scan shows a live table and a
progress bar and blocks until it ends; Ctrl-C asks whether to pause, resume or
abort it. Errors from the stack (``BECError``) are shown as one line.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bec_core.client.client import BECClient
from bec_core.client.display import LiveScan, live_move, stdout_console, wm_table
from bec_core.client.movement import MoveStatus
from bec_core.client.report import ScanReport

INTERRUPT_PROMPT = "Scan interrupted: [p]ause, [r]esume, [a]bort, or Enter to keep watching? "


class ShellReporter:
    """Shows each scan or move live and turns Ctrl-C into a pause/resume/abort question."""

    def __init__(self, client: BECClient, ask: Any = input) -> None:
        self.client = client
        self.ask = ask

    def __call__(self, report: ScanReport) -> None:
        """Show ``report`` live until it ends (Ctrl-C asks what to do)."""
        if isinstance(report, MoveStatus):
            self._move(report)
            return
        live = LiveScan(self.client, report)
        while True:
            try:
                live.run()
                return
            except KeyboardInterrupt:
                if not self._interrupted():
                    return

    def _move(self, status: MoveStatus) -> None:
        try:
            live_move(self.client, status)
        except KeyboardInterrupt:
            for name in status.targets:
                self.client.dev[name].stop()
            raise

    def _interrupted(self) -> bool:
        """Ask what to do; True to keep watching the scan."""
        console = stdout_console()
        try:
            answer = self.ask(INTERRUPT_PROMPT).strip().lower()
        except (KeyboardInterrupt, EOFError):
            answer = "a"
        if answer.startswith("p"):
            self.client.queue.pause()
            console.print("[yellow]scan paused[/]: press Ctrl-C, then r to resume")
        elif answer.startswith("r"):
            self.client.queue.resume()
            console.print("[green]scan resumed[/]")
        elif answer.startswith("a"):
            self.client.queue.abort()
            console.print("[red]abort requested[/]")
        return True


def make_namespace(client: BECClient) -> dict[str, Any]:
    """What the shell user sees: ``bec``, ``dev``, ``scans``, ``umv``, ``mv``, ``wm``."""

    def wm(*devices: Any) -> None:
        """Where are the motors (all positioners, or the ones given)."""
        stdout_console().print(wm_table(client.wm(*devices)))

    return {
        "bec": client,
        "dev": client.dev,
        "scans": client.scans,
        "umv": client.umv,
        "mv": client.mv,
        "wm": wm,
    }


def _bec_error_handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> None:
    """One readable line instead of a traceback for errors from the stack."""
    stdout_console().print(f"[bold red]{etype.__name__}[/]: {value}", highlight=False)


def run_shell(args: argparse.Namespace) -> int:
    """Start the client and the IPython shell; return the exit code."""
    client = BECClient(args.redis, args.username, args.password, server_timeout=args.server_timeout).start()
    client.reporter = ShellReporter(client)
    try:
        return _ipython(client)
    finally:
        client.shutdown()


def _ipython(client: BECClient) -> int:
    from IPython.terminal.interactiveshell import TerminalInteractiveShell
    from IPython.terminal.prompts import Prompts, Token
    from traitlets.config import Config

    from bec_core.errors import BECError

    class BECPrompts(Prompts):
        """``[<next scan number>] bec > ``."""

        def in_prompt_tokens(self) -> list[tuple[Any, str]]:
            try:
                number = client.next_scan_number
            except Exception:  # a prompt must never fail; Redis may be gone for a moment
                number = None
            return [(Token.Prompt, f"[{number if number is not None else '?'}] bec > ")]

        def out_prompt_tokens(self) -> list[tuple[Any, str]]:
            return [(Token.OutPrompt, "")]

    config = Config()
    config.TerminalInteractiveShell.banner1 = (
        f"bec-core client on {client.redis_url}: {len(client.dev)} devices, "
        f"{len(client.scans.names())} scans. Try: scans.line_scan(dev.samx, -1, 1, steps=5, relative=False)\n"
    )
    config.TerminalInteractiveShell.confirm_exit = False
    config.HistoryManager.hist_file = ":memory:"
    shell = TerminalInteractiveShell.instance(config=config, user_ns=make_namespace(client))
    shell.prompts = BECPrompts(shell)
    shell.set_custom_exc((BECError,), _bec_error_handler)
    shell.mainloop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    from bec_core.client.cli import main

    sys.exit(main(["shell", *sys.argv[1:]]))
