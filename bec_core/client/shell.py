"""The ``bec`` IPython shell.

The namespace holds ``bec`` (the client), ``dev``, ``scans``, ``umv``, ``mv``,
``wm``. The prompt shows the next scan number. A scan shows a live table and a
progress bar and blocks until it ends; Ctrl-C asks whether to pause, resume or
abort it. Errors from the stack (``BECError``) are shown as one line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from bec_core.client.client import BECClient
from bec_core.client.display import LiveScan, live_move, stdout_console, wm_table
from bec_core.client.interrupt import ask_after_interrupt
from bec_core.client.movement import MoveStatus
from bec_core.client.report import ScanReport


class ShellReporter:
    """Shows each scan or move live and turns Ctrl-C into a pause/resume/abort question.

    ``columns`` is the user's choice of detector columns for the live table (None: hinted).
    """

    def __init__(self, client: BECClient, ask: Any = input) -> None:
        self.client = client
        self.ask = ask
        self.columns: list[str] | None = None

    def __call__(self, report: ScanReport) -> None:
        """Show ``report`` live until it ends (Ctrl-C asks what to do)."""
        if isinstance(report, MoveStatus):
            self._move(report)
            return
        live = LiveScan(self.client, report, devices=self.columns)
        while True:
            try:
                live.run()
                return
            except KeyboardInterrupt:
                ask_after_interrupt(self.client, report, stdout_console(), self.ask)

    def _move(self, status: MoveStatus) -> None:
        # the server's answer first: a refused move (limits) shows no move line
        self.client.wait_response(status.rid)
        try:
            live_move(self.client, status)
        except KeyboardInterrupt:
            for name in status.targets:
                self.client.dev[name].stop()
            raise


def make_namespace(client: BECClient, reporter: ShellReporter | None = None) -> dict[str, Any]:
    """What the shell user sees: ``bec``, ``dev``, ``scans``, ``umv``, ``mv``, ``wm``, ``columns``."""

    def wm(*devices: Any) -> None:
        """Where are the motors (all positioners, or the ones given)."""
        stdout_console().print(wm_table(client.wm(*devices)))

    def umv(*args: Any, relative: bool = False) -> None:
        """Move and wait until every motor arrived: ``umv(dev.samx, 1.5)``; the readbacks show live."""
        client.umv(*args, relative=relative)

    def columns(*devices: Any) -> list[str] | None:
        """Choose the live table's detector columns: ``columns("bpm4i", "diode")``; ``columns()`` resets.

        Names are devices (their hinted signals) or ``device.signal``; the default is the hinted
        signals of the scan's detectors. Returns the current choice.
        """
        if reporter is None:
            return None
        if devices:
            from bec_core.client.signals import parse_choice

            names = [getattr(d, "_bec_device_name", d) for d in devices]
            parse_choice(client, names)  # unknown names are refused now, not at the next scan
            reporter.columns = names
        else:
            reporter.columns = None
        stdout_console().print(
            "live table columns: " + (", ".join(reporter.columns) if reporter.columns else "hinted (default)")
        )
        return reporter.columns

    return {
        "bec": client,
        "dev": client.dev,
        "scans": client.scans,
        "umv": umv,
        "mv": client.mv,
        "wm": wm,
        "columns": columns,
    }


def _bec_error_handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> None:
    """One readable line instead of a traceback for errors from the stack."""
    stdout_console().print(f"[bold red]{etype.__name__}[/]: {value}", highlight=False)


def _connection_error_handler(client: BECClient) -> Any:
    """One line when Redis is gone (the stack was stopped) instead of redis-py's traceback."""

    def handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> None:
        stdout_console().print(
            f"[bold red]the stack at {client.redis_url} is not running[/] ({etype.__name__}): "
            f"start it with `bec-server start`, then repeat the command",
            highlight=False,
        )

    return handler


BANNER = """bec-core shell on {url}: {devices} devices, {scans} scans.
  dev.<TAB> devices, scans.<TAB> scans, umv(dev.samx, 1.5), wm(), bec.queue, bec.last_scan
  try: scans.line_scan(dev.samx, -1, 1, steps=5, relative=False)
  The prompt [N] shows the number the next scan will get. Ctrl-C during a scan asks: pause, resume, abort.
"""


def run_shell(args: argparse.Namespace) -> int:
    """Start the client and the IPython shell; return the exit code."""
    client = BECClient(args.redis, args.username, args.password, server_timeout=args.server_timeout).start()
    reporter = ShellReporter(client)
    client.reporter = reporter
    try:
        return _ipython(client, reporter)
    finally:
        client.shutdown()


def _ipython(client: BECClient, reporter: ShellReporter) -> int:
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
    config.TerminalInteractiveShell.banner1 = BANNER.format(
        url=client.redis_url, devices=len(client.dev), scans=len(client.scans.names())
    )
    config.TerminalInteractiveShell.confirm_exit = False
    config.HistoryManager.hist_file = ":memory:"
    shell = TerminalInteractiveShell.instance(config=config, user_ns=make_namespace(client, reporter))
    shell.prompts = BECPrompts(shell)
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    on_connection_error = _connection_error_handler(client)
    # The shell says in one line when the stack is gone; the connector's own outage
    # warnings ("Redis unavailable; retrying") would only repeat it around that line.
    logging.getLogger("bec_core.redis_connector.retry").setLevel(logging.ERROR)

    def on_error(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> None:
        if issubclass(etype, (RedisConnectionError, RedisTimeoutError, ConnectionError)):
            on_connection_error(shell, etype, value, tb, tb_offset)
        else:
            _bec_error_handler(shell, etype, value, tb, tb_offset)

    shell.set_custom_exc((BECError, RedisConnectionError, RedisTimeoutError, ConnectionError), on_error)
    shell.show_banner()  # mainloop() alone does not print it
    shell.mainloop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    from bec_core.client.cli import main

    sys.exit(main(["shell", *sys.argv[1:]]))
