"""A new user's first hour with the ``bec`` command (issue 16), against real processes.

Each test runs the CLI as a process; the stack is the session's (config/devices/test.yaml:
samx, samy, then bpm4i (a Gaussian over samx), bpm4a, bpm3i, diode in that order).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pexpect
import pytest
from stack import Stack, entry_point

pytestmark = pytest.mark.system
BEC = entry_point("bec")
NO_PLOTEXT = Path(__file__).parent / "no_plotext"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(stack: Stack, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "160", "TERM": "dumb", **(env or {})}
    return subprocess.run(
        [BEC, "--redis", stack.address, "--server-timeout", "30", *args],
        capture_output=True,
        text=True,
        timeout=90,
        env=full_env,
    )


def scan_number_and_samx(bec) -> tuple[int | None, float]:
    return bec.next_scan_number, float(bec.dev.samx.read(cached=False)["samx"]["value"])


#: A scan long enough to be interrupted: 200 points of 50 ms.
SLOW_SCAN = ["scan", "line_scan", "samx", "-1", "1", "--steps", "200", "--exp-time", "0.05", "--no-relative"]


def test_a_failing_command_sends_nothing(stack: Stack, bec, tmp_path: Path) -> None:
    """Item 1: every option and dependency is checked before the request goes out."""
    before = scan_number_and_samx(bec)
    scan = ["scan", "line_scan", "samx", "3", "4", "--steps", "3", "--no-relative"]
    no_plotext = run(stack, *scan, "--plot", env={"PYTHONPATH": str(NO_PLOTEXT)})
    assert no_plotext.returncode == 1, no_plotext.stdout + no_plotext.stderr
    assert "pip install 'bec-core[plot]'" in no_plotext.stderr
    bad_dir = run(stack, *scan, "--save-plot", str(tmp_path / "missing" / "x.png"))
    assert bad_dir.returncode == 2 and "does not exist" in bad_dir.stderr
    bad_show = run(stack, *scan, "--show", "bpm9i")
    assert bad_show.returncode == 1 and "unknown device 'bpm9i'" in bad_show.stderr
    no_relative = run(stack, "scan", "line_scan", "samx", "3", "4", "--steps", "3")
    assert no_relative.returncode == 2 and "needs --relative or --no-relative" in no_relative.stderr
    for result in (no_plotext, bad_dir, bad_show, no_relative):
        assert "scan " not in result.stdout  # no table, no scan header
    assert scan_number_and_samx(bec) == before  # no scan number taken, samx did not move


def test_table_shows_hinted_detectors_in_config_order_once(stack: Stack) -> None:
    """Item 5: default columns are the hinted detector signals in config order; one table only."""
    result = run(stack, "scan", "line_scan", "samx", "-1", "1", "--steps", "3", "--no-relative")
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if line.strip().startswith("point"))
    assert header.split() == ["point", "samx", "bpm4i", "bpm4a", "bpm3i", "diode"]
    assert len([line for line in result.stdout.splitlines() if re.match(r"^\s+0\s", line)]) == 1
    assert "│" not in result.stdout  # the rows are printed live, not a second time as a table
    chosen = run(
        stack,
        "scan",
        "line_scan",
        "samx",
        "-1",
        "1",
        "--steps",
        "3",
        "--no-relative",
        "--show",
        "diode,samx.samx_setpoint",
    )
    header = next(line for line in chosen.stdout.splitlines() if line.strip().startswith("point"))
    assert header.split() == ["point", "samx", "diode", "samx_setpoint"]


def test_grid_scan_shows_every_row(stack: Stack) -> None:
    """Item 5: an 81-point grid is not cut at 50 rows."""
    result = run(stack, "scan", "grid_scan", "samx", "-1", "1", "9", "samy", "-1", "1", "9", "--no-relative")
    assert result.returncode == 0, result.stderr
    rows = [int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\s+-?\d", result.stdout, re.M)]
    assert rows == list(range(81))
    assert "│" not in result.stdout  # no second table, cut at 50 rows without saying so


def test_plots_show_the_hinted_detector_and_the_grid_as_a_heat_map(stack: Stack, tmp_path: Path) -> None:
    """Item 3: PNG and terminal plots of the hinted detector against the motor; a grid as a heat map."""
    line_png, grid_png, chosen_png = tmp_path / "line.png", tmp_path / "grid.png", tmp_path / "diode.png"
    line = run(
        stack,
        "scan",
        "line_scan",
        "samx",
        "-4",
        "4",
        "--steps",
        "17",
        "--no-relative",
        "--plot",
        "--save-plot",
        str(line_png),
    )
    assert line.returncode == 0, line.stderr
    line.stdout = ANSI.sub("", line.stdout)
    assert "line_scan: bpm4i" in line.stdout  # the terminal plot's title: the Gaussian, not bpm3i
    assert re.search(r"^bpm4i\s+samx\s*$", line.stdout, re.M)  # y and x labels under the plot
    chosen = run(
        stack,
        "scan",
        "line_scan",
        "samx",
        "-1",
        "1",
        "--steps",
        "5",
        "--no-relative",
        "--plot",
        "--show",
        "diode",
        "--save-plot",
        str(chosen_png),
    )
    assert chosen.returncode == 0 and "line_scan: diode" in chosen.stdout and "bpm4i" not in chosen.stdout
    grid = run(
        stack,
        "scan",
        "grid_scan",
        "samx",
        "-3",
        "3",
        "7",
        "samy",
        "-1",
        "1",
        "3",
        "--no-relative",
        "--plot",
        "--save-plot",
        str(grid_png),
    )
    assert grid.returncode == 0, grid.stderr
    assert "grid_scan: bpm4i over samx and samy" in grid.stdout  # the terminal heat map
    heat = [line for line in grid.stdout.splitlines() if re.match(r"^\s+-?\d\s{2,}[ .:\-=+*#%@]+$", line)]
    assert len(heat) == 3 and all("@" in row for row in heat)  # three samy rows, peak at samx 0
    for png in (line_png, grid_png, chosen_png):
        assert png.read_bytes()[:4] == b"\x89PNG"
    keep = os.environ.get("BEC_TEST_KEEP_PNG")
    if keep:  # for looking at them: BEC_TEST_KEEP_PNG=/tmp/pngs
        Path(keep).mkdir(parents=True, exist_ok=True)
        for png in (line_png, grid_png, chosen_png):
            (Path(keep) / png.name).write_bytes(png.read_bytes())


def test_ctrl_c_asks_in_a_terminal_and_abort_stops_the_scan(stack: Stack, bec) -> None:
    """Item 7: Ctrl-C in the CLI asks pause/resume/abort; abort ends the scan on the server."""
    cli = pexpect.spawn(
        BEC,
        ["--redis", stack.address, *SLOW_SCAN],
        encoding="utf-8",
        codec_errors="replace",
        timeout=60,
        env={**os.environ, "TERM": "dumb"},
    )
    try:
        cli.expect(r"\n\s+3\s")
        cli.sendintr()
        cli.expect(r"\[p\]ause, \[r\]esume, \[a\]bort")
        cli.sendline("p")
        cli.expect(r"scan \d+ paused \(queue PAUSED\)")  # item 13: confirmed once the server paused
        cli.sendintr()  # at once: a Ctrl-C right after the answer is asked about too
        cli.expect(r"\[p\]ause, \[r\]esume, \[a\]bort")
        cli.sendline("a")
        cli.expect(r"scan (\d+) aborted")
        number = int(cli.match.group(1))
        cli.expect(pexpect.EOF)
    finally:
        cli.close(force=True)
    assert cli.exitstatus == 130
    from bec_core.endpoints import MessageEndpoints

    status = bec.connector.get(MessageEndpoints.scan_status())
    assert status.scan_number == number and status.status == "aborted"
    if bec.queue.state == "PAUSED":  # leave the queue as the other tests expect it
        bec.queue.resume()


def test_ctrl_c_without_a_terminal_aborts_and_says_so(stack: Stack, bec) -> None:
    """Item 7: without a terminal to ask on, Ctrl-C aborts the scan on the server and says so."""
    from bec_core.endpoints import MessageEndpoints

    proc = subprocess.Popen(
        [BEC, "--redis", stack.address, *SLOW_SCAN],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TERM": "dumb", "COLUMNS": "160"},
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if re.match(r"^\s+3\s", line):
            break
    number = int(re.search(r"scan (\d+) line_scan", "".join(seen)).group(1))
    proc.send_signal(signal.SIGINT)
    out = "".join(seen) + proc.stdout.read()
    assert proc.wait(60) == 130, out
    assert "aborting the scan on the server" in out and f"scan {number} aborted" in out
    status = bec.connector.get(MessageEndpoints.scan_status())
    assert status.scan_number == number and status.status == "aborted"


def test_status_uptime_reads_as_a_duration(stack: Stack) -> None:
    """Item 13: `bec status` prints uptime as bec-server status does (m:ss), not raw seconds."""
    result = run(stack, "status")
    assert result.returncode == 0, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if "ScanServer" in line)
    assert re.search(r"│\s*\d+:\d\d(:\d\d)?\s*│", row), row
    assert not re.search(r"\d+\.\d{3}", row)


def test_scanning_a_detector_is_refused_before_sending(stack: Stack, bec) -> None:
    """Item 10: a detector as the motor of a scan is refused up front, naming it."""
    before = bec.next_scan_number
    result = run(stack, "scan", "line_scan", "bpm4i", "0", "1", "--steps", "2", "--no-relative")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "bpm4i is not a positioner" in result.stderr
    assert bec.next_scan_number == before


def test_a_failed_device_is_refused_by_name_before_a_number_is_taken(tmp_path: Path) -> None:
    """Item 9 (client side): scanning a device that failed to start names it; nothing is sent."""
    from bec_core.client import BECClient

    devices = tmp_path / "broken.yaml"
    devices.write_text(
        "mot1:\n  deviceClass: bec_device_server.sim.SimPositioner\n  deviceConfig: {limits: [-5, 5]}\n"
        "  readoutPriority: baseline\n  enabled: true\n"
        "mot2:\n  deviceClass: bec_device_server.sim.SimFailing\n  deviceConfig: {fail_on: [init]}\n"
        "  readoutPriority: baseline\n  enabled: true\n"
    )
    own = Stack(tmp_path, devices=devices).start()
    try:
        with BECClient(own.address, server_timeout=30) as bec:
            before = bec.next_scan_number
            result = run(own, "scan", "line_scan", "mot2", "0", "1", "--steps", "2", "--no-relative")
            assert result.returncode == 1, result.stdout + result.stderr
            assert "mot2 is not running on the device server" in result.stderr
            assert "mot1" not in result.stderr
            assert bec.next_scan_number == before
    finally:
        own.stop()


def test_umv_piped_prints_one_complete_line(stack: Stack) -> None:
    """Item 13: `umv` into a pipe writes one line, from → to and where the motor is, with its newline."""
    first = run(stack, "scan", "umv", "samx", "0.5", "--no-relative")
    assert first.returncode == 0, first.stderr
    # "from" is the last published readback: wait until the first move's final one is out
    _wait_for_readback(stack, "samx", 0.5)
    result = run(stack, "scan", "umv", "samx", "1", "--no-relative")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1, repr(result.stdout)
    assert re.fullmatch(r"samx 0\.5 → 1 \(at 1\)\n", result.stdout), repr(result.stdout)


def _wait_for_readback(stack: Stack, device: str, value: float, timeout: float = 30.0) -> None:
    """Until ``device``'s published readback is ``value`` (a key that nothing announces to a
    plain reader here: read with a short back-off, within a deadline)."""
    import time

    from waiting import POLL_S

    from bec_core.endpoints import MessageEndpoints
    from bec_core.redis_connector import RedisConnector

    conn = RedisConnector(stack.address)
    try:
        deadline = time.monotonic() + timeout
        while True:
            msg = conn.get(MessageEndpoints.device_readback(device))
            current = msg.signals.get(device, {}).get("value") if msg is not None else None
            if current is not None and abs(float(current) - value) < 1e-6:
                return
            if time.monotonic() >= deadline:
                raise AssertionError(f"{device} readback {current}, not {value}, after {timeout} s")
            time.sleep(POLL_S)
    finally:
        conn.shutdown()
