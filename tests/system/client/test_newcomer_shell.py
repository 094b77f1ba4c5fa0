"""A new user's first hour in the ``bec`` shell (issue 16), read from a pseudo-terminal's screen."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pexpect
import pytest
from stack import Stack, entry_point

pytestmark = pytest.mark.system
PROMPT = r"\[\d+\] bec > "
#: a prompt at the start of a line: prompt_toolkit draws each prompt twice, the second right after the first
LINE_PROMPT = r"\n(?:\x1b\[[0-9;?]*[a-zA-Z])*\[(?:\d+|\?)\] bec > "
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1b\][^\x07]*\x07")


def spawn(address: str) -> pexpect.spawn:
    return pexpect.spawn(
        entry_point("bec"),
        ["--redis", address, "--server-timeout", "30"],
        encoding="utf-8",
        codec_errors="replace",
        timeout=40,
        dimensions=(50, 160),
        env={**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "PAGER": "cat"},
    )


def command(shell: pexpect.spawn, line: str) -> str:
    """Send one line, return what the screen showed until the next prompt (colour codes removed)."""
    shell.sendline(line)
    shell.expect(LINE_PROMPT)
    return ANSI.sub("", shell.before)


def test_shell_first_hour(stack: Stack) -> None:
    shell = spawn(stack.address)
    try:
        shell.expect(PROMPT)
        banner = ANSI.sub("", shell.before)
        assert "The prompt [N] shows the number the next scan will get" in banner  # item 13
        assert "Ctrl-C during a scan asks" in banner
        out = command(shell, "scans.line_scan(dev.samx, -1, 1, steps=3, relative=False)")
        assert re.search(r"point\s+samx\s+bpm4i\s+bpm4a\s+bpm3i\s+diode", out), (
            out
        )  # item 5: hinted, config order
        assert len(re.findall(r"point\s+samx", out)) == 1 and "│" not in out  # one table
        assert "<ScanReport" in out  # the returned report, shown once as one line
        out = command(shell, 'columns("diode", "samx.samx_setpoint")')
        assert "live table columns: diode, samx.samx_setpoint" in out
        out = command(shell, "scans.line_scan(dev.samx, -1, 1, steps=3, relative=False)")
        assert re.search(r"point\s+samx\s+diode\s+samx_setpoint\s*\r?\n", out), out
        out = command(shell, 'columns("bpm9")')
        assert "unknown device 'bpm9'" in out
        out = command(shell, "columns()")
        assert "hinted (default)" in out
        out = command(shell, "umv(dev.samx, 1.5)")
        assert re.search(r"samx -?\d+(\.\d+)? → 1\.5 \(at 1\.5\)", out), (
            out
        )  # item 13: from → to, where it is
        assert "MoveStatus" not in out
        out = command(shell, "umv(dev.samx, 100)")
        assert "outside limits" in out and "→ 100" not in out  # refused before any move line
        out = command(shell, "bec.queue.history(2)")
        assert re.search(r"COMPLETED\s+umv", out) and "ScanQueueHistoryMessage(" not in out
        out = command(shell, "bec.last_scan.scan.num_points")
        assert re.search(r"\b3\b", out)
        out = command(shell, "help(scans.line_scan)")  # PAGER=cat: the text without a pager
        assert "(*args, steps: int, relative: bool, exp_time: float [s] = 0" in out, out
        assert "Annotated" not in out and "ScanArgument" not in out
        shell.sendline("exit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    assert shell.exitstatus == 0


def test_shell_says_in_one_line_that_the_stack_is_gone(tmp_path: Path) -> None:
    """Item 6: once the stack is stopped, a command prints one line, not redis-py's traceback."""
    own = Stack(tmp_path).start()
    try:
        shell = spawn(own.address)
        shell.expect(PROMPT)
    finally:
        own.stop()
    try:
        shell.expect("lost the pub/sub connection to Redis")  # the one-line notice when Redis goes
        shell.expect(LINE_PROMPT)  # the prompt drawn again under it
        out = command(shell, "dev.samx.read(cached=False)")
        lines = [line for line in out.splitlines()[1:] if line.strip()]
        assert len(lines) == 1, repr(out)
        assert (
            f"the stack at redis://{own.address} is not running" in lines[0]
            and "bec-server start" in lines[0]
        )
        shell.sendline("exit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
