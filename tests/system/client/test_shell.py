"""The IPython shell in a real terminal (pexpect): scan, live table, Ctrl-C → resume, umv, errors, exit."""

from __future__ import annotations

import os

import pexpect
import pytest
from stack import Stack, entry_point

pytestmark = pytest.mark.system
PROMPT = r"\[\d+\] bec > "


def test_shell_session(stack: Stack) -> None:
    shell = pexpect.spawn(
        entry_point("bec"),
        ["--redis", stack.address, "--server-timeout", "30"],
        encoding="utf-8",
        codec_errors="replace",
        timeout=40,
        dimensions=(40, 140),
        env={**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1"},
    )
    try:
        shell.expect(PROMPT)
        shell.sendline("scans.line_scan(dev.samx, -1, 1, steps=80, exp_time=0.05, relative=False)")
        shell.expect(r"point\s+samx\s+")  # the live table's header
        shell.expect(r"\s3\s+-0\.9")  # point 3
        shell.sendintr()
        shell.expect("Scan interrupted: \\[p\\]ause, \\[r\\]esume, \\[a\\]bort")
        shell.sendline("r")
        shell.expect(r"scan \d+ resumed")
        shell.expect(r"finished\S*: 80 points, status closed")
        shell.expect(PROMPT)
        shell.sendline("umv(dev.samx, 2)")
        shell.expect(r"samx\S* \S+ → 2 \(at 2\)")
        shell.expect(PROMPT)
        shell.sendline("scans.line_scan(dev.samq, 0, 1, steps=2, relative=False)")
        shell.expect(r"UnknownDeviceError\S*: unknown device 'samq'")
        shell.expect(PROMPT)
        shell.sendline("exit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    assert shell.exitstatus == 0
