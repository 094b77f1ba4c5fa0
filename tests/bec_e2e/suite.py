"""Run BEC 4.3.2's own end-to-end suite, with the stock client, against a bec-core stack.

The stack is bec-core's one-command stack (``bec-server start`` with its
embedded Redis on a free port, every service from its real entry point). The
suite runs in the stock environment (:mod:`stock_env`) with pytest-bec-e2e's
own fixtures pointed at that Redis; nothing of the suite is patched. The
result of every test id is compared with ``expectations.yaml``: a *must pass*
that does not pass, a *known gap* that passes, and an id that is in one but
not the other all fail the comparison, so the gap list can only shrink.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from stock_env import BEC_VERSION, StockEnv

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EXPECTATIONS = HERE / "expectations.yaml"
START_DEVICES = REPO / "config" / "devices" / "test.yaml"

#: Default per-test timeout (seconds) for tests without their own ``timeout`` marker.
DEFAULT_TEST_TIMEOUT = 120

#: The services a stock client waits for, without a timeout, before it does anything
#: (bec_lib 4.3.2 ``BECService._wait_for_server``).
STOCK_WAITS_FOR = ("ScanServer", "ScanBundler", "DeviceServer", "SciHub", "DAPServer")

#: Run in the stock venv: does the stock client see every service it waits for as RUNNING?
_PREFLIGHT = """
import sys, time
from bec_lib.endpoints import MessageEndpoints
from bec_lib.messages import BECStatus
from bec_lib.redis_connector import RedisConnector
conn = RedisConnector(sys.argv[1])
deadline = time.monotonic() + float(sys.argv[2])
POLL_S = 0.2  # the keys are read again at this pace until the deadline
while True:
    names = {}
    for key in conn.keys(MessageEndpoints.service_status("*")) or []:
        name = key.decode().removeprefix(MessageEndpoints.service_status("").endpoint)
        msg = conn.get(MessageEndpoints.service_status(name))
        if msg is not None:
            names[msg.content["name"]] = BECStatus(msg.content["status"])
    missing = [n for n in sys.argv[3:] if not any(
        (k == n or k.startswith(n + "/")) and v == BECStatus.RUNNING for k, v in names.items())]
    if not missing:
        sys.exit(0)
    if time.monotonic() > deadline:
        print(", ".join(missing))
        sys.exit(1)
    time.sleep(POLL_S)
"""


@dataclass
class Outcome:
    """One test id's result: ``passed``, ``failed``, ``error`` or ``skipped``, with pytest's message."""

    outcome: str
    seconds: float
    message: str = ""


@dataclass
class Expectations:
    """The checked-in expectations: which files run, and per test id must-pass or a gap's reason."""

    files: list[str]
    excluded: dict[str, str]
    must_pass: set[str] = field(default_factory=set)
    gaps: dict[str, str] = field(default_factory=dict)
    stock_failures: dict[str, str] = field(default_factory=dict)
    unstable: set[str] = field(default_factory=set)
    """Gaps seen both passing and failing between runs: a pass is reported, not a failure."""

    @classmethod
    def load(cls, path: Path = EXPECTATIONS) -> Expectations:
        data = yaml.safe_load(path.read_text())
        exp = cls(files=list(data["files"]), excluded=dict(data.get("excluded") or {}))
        for test_id, value in (data.get("tests") or {}).items():
            if value == "must_pass":
                exp.must_pass.add(test_id)
            elif isinstance(value, dict) and "gap" in value:
                exp.gaps[test_id] = str(value["gap"])
                if value.get("fails_on_stock"):
                    exp.stock_failures[test_id] = str(value["gap"])
                if value.get("unstable"):
                    exp.unstable.add(test_id)
            else:
                raise ValueError(f"{path}: {test_id}: expected 'must_pass' or {{gap: reason}}, got {value!r}")
        return exp

    def known(self) -> set[str]:
        return self.must_pass | set(self.gaps)


def compare(results: dict[str, Outcome], exp: Expectations) -> list[str]:
    """Every way the run differs from the expectations, one sentence each (empty: as expected)."""
    problems: list[str] = []
    for test_id in sorted(exp.must_pass):
        got = results.get(test_id)
        if got is None:
            problems.append(f"{test_id}: must pass, but it did not run")
        elif got.outcome != "passed":
            first = got.message.strip().splitlines()[0][:300] if got.message.strip() else ""
            problems.append(f"{test_id}: must pass, got {got.outcome}: {first}")
    for test_id, reason in sorted(exp.gaps.items()):
        got = results.get(test_id)
        if got is None:
            problems.append(f"{test_id}: listed as a known gap, but it did not run")
        elif got.outcome == "passed" and test_id not in exp.unstable:
            problems.append(f"{test_id}: known gap ({reason}) now passes: mark it must_pass")
    for test_id in sorted(set(results) - exp.known()):
        problems.append(f"{test_id}: not in expectations.yaml ({results[test_id].outcome}): classify it")
    return problems


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _script(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.is_file() else name


class BecCoreStack:
    """bec-core's stack through ``bec-server start``/``stop``, on a private Redis and state dir."""

    def __init__(
        self, workdir: Path, port: int | None = None, plugin_paths: list[Path] | None = None
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.state_dir = workdir / "state"
        #: where the scan server also imports scan plugins from (docs/decisions/0006): the stock
        #: venv's site-packages, as a beamline reuses the venv that holds stock bec-server and its plugin
        self.plugin_paths = plugin_paths or []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _server(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        cmd = [_script("bec-server"), *args, "--redis", self.address, "--state-dir", str(self.state_dir)]
        env = dict(os.environ)
        if self.plugin_paths:
            env["BEC_SCAN_PLUGIN_PATHS"] = os.pathsep.join(str(p) for p in self.plugin_paths)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.workdir, env=env)

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        result = self._server("start", "--config", str(START_DEVICES), "--timeout", "90", timeout=150)
        if result.returncode != 0:
            raise RuntimeError(
                f"bec-server start failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
            )

    def stop(self) -> str:
        result = self._server("stop", timeout=120)
        return result.stdout + result.stderr

    def logs(self) -> dict[str, str]:
        """The tail of every log file the stack wrote under its state directory."""
        return {
            str(p.relative_to(self.workdir)): p.read_text(errors="replace")[-4000:]
            for p in sorted(self.state_dir.rglob("*.log"))
        }


def parse_report_log(path: Path) -> dict[str, Outcome]:
    """``file.py::name[param]`` → :class:`Outcome`, from pytest-reportlog's JSON lines.

    The log is written test by test, so it holds every finished test even when
    the run was stopped at its time budget.
    """
    results: dict[str, Outcome] = {}
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill
        if entry.get("$report_type") != "TestReport":
            continue
        test_id = entry["nodeid"].rsplit("/", 1)[-1]
        when, outcome = entry["when"], entry["outcome"]
        got = results.setdefault(test_id, Outcome("passed", 0.0))
        got.seconds = round(got.seconds + float(entry.get("duration") or 0.0), 2)
        if outcome == "passed" or got.outcome != "passed":
            continue  # the first failing phase decides
        got.outcome = {"call": "failed"}.get(when, "error") if outcome == "failed" else "skipped"
        got.message = _longrepr_text(entry.get("longrepr"))[-4000:]
    return results


#: How long pytest may take to exit after its session finished (stock client threads can keep it alive).
EXIT_GRACE_S = 30.0


def _wait_for_session(proc: subprocess.Popen[bytes], report_log: Path, budget: float, log: Any) -> int | None:
    """pytest's exit code; ``None`` if the budget ran out first.

    A stock client whose start failed can leave non-daemon threads that keep the
    interpreter alive after the session: once the report log says the session
    finished, pytest gets :data:`EXIT_GRACE_S` to exit, then it is killed and its
    reported exit status is used.
    """
    deadline = time.monotonic() + budget
    finished_at: float | None = None
    while True:
        try:
            return proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if finished_at is None and _session_status(report_log) is not None:
            finished_at = now
        if finished_at is not None and now - finished_at > EXIT_GRACE_S:
            _kill(proc)
            log.write(
                f"\n*** pytest still alive {EXIT_GRACE_S:.0f} s after its session finished: killed ***\n"
            )
            return _session_status(report_log)
        if now > deadline:
            _kill(proc)
            log.write(f"\n*** stopped at the time budget of {budget:.0f} s ***\n")
            return None


def _session_status(report_log: Path) -> int | None:
    """The exit status in the report log's SessionFinish line, once it is there."""
    if not report_log.is_file():
        return None
    with report_log.open("rb") as handle:
        handle.seek(max(0, report_log.stat().st_size - 400))
        tail = handle.read().decode(errors="replace").strip().splitlines()
    try:
        last = json.loads(tail[-1]) if tail else {}
    except ValueError:
        return None
    return int(last["exitstatus"]) if last.get("$report_type") == "SessionFinish" else None


def _kill(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _longrepr_text(longrepr: Any) -> str:
    if isinstance(longrepr, str):
        return longrepr
    if isinstance(longrepr, list):  # skipped: [path, line, reason]
        return str(longrepr[-1])
    if isinstance(longrepr, dict):
        crash = (longrepr.get("reprcrash") or {}).get("message", "")
        entries = (longrepr.get("reprtraceback") or {}).get("reprentries") or []
        lines = [ln for e in entries[-2:] for ln in (e.get("data") or {}).get("lines", [])]
        return crash + "\n" + "\n".join(lines)
    return ""


def site_packages(python: Path) -> Path:
    """The site-packages directory of the venv of ``python``."""
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return Path(out.stdout.strip())


def run_suite(
    env: StockEnv, exp: Expectations, workdir: Path, select: str | None = None, budget_s: float | None = None
) -> dict[str, Any]:
    """Start the stack, run the suite with the stock client, stop the stack; the run's record.

    The must-pass tests run first, then the known gaps, in one pytest session.
    ``budget_s`` bounds the whole session (default ``$BEC_E2E_BUDGET_S`` or 25
    minutes): tests not reached by then are recorded as not run.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    budget = budget_s or float(os.environ.get("BEC_E2E_BUDGET_S", 25 * 60))
    stack = BecCoreStack(workdir / "stack", plugin_paths=[site_packages(env.python)])
    report_log = workdir / "report.jsonl"
    started = time.time()
    exit_code: int | None = None
    stack.start()
    try:
        missing = _preflight(env, stack.address)
        if missing:
            return _record(started, None, {t: Outcome("error", 0.0, missing) for t in exp.known()}, stack)
        order = sorted(exp.must_pass) + sorted(exp.gaps)
        targets = [f"{env.e2e_dir / t.split('::')[0]}::{t.split('::', 1)[1]}" for t in order]
        cmd = [
            str(env.python), "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
            f"--report-log={report_log}", f"--timeout={DEFAULT_TEST_TIMEOUT}",
            "--bec-redis-host", "127.0.0.1", "--redis-port", str(stack.port), "-rA", "-v",
            *(["-k", select] if select else []), *targets,
        ]  # fmt: skip
        with (workdir / "pytest.log").open("w") as log:
            proc = subprocess.Popen(
                cmd, cwd=env.tests_dir.parent, stdout=log, stderr=subprocess.STDOUT,
                env=_stock_env(), start_new_session=True,
            )  # fmt: skip
            exit_code = _wait_for_session(proc, report_log, budget, log)
    finally:
        stop_output = stack.stop()
    results = parse_report_log(report_log) if report_log.is_file() else {}
    if exit_code is None:
        for test_id in exp.known() - set(results):
            results[test_id] = Outcome(
                "not run", 0.0, f"not reached within the time budget of {budget:.0f} s"
            )
    return _record(started, exit_code, results, stack, stop_output)


def run_against_stock(env: StockEnv, exp: Expectations, workdir: Path) -> dict[str, Any]:
    """The reference: the same files, same client, against stock BEC's own six services.

    pytest-bec-e2e starts stock's servers itself (``--start-servers``) on a
    redis-server it starts (the one bec-core would use). About 12 minutes on 2 cores.
    """
    from bec_core.redis_server import find_redis_server

    workdir.mkdir(parents=True, exist_ok=True)
    report_log = workdir / "report.jsonl"
    started = time.time()
    cmd = [
        str(env.python), "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
        f"--report-log={report_log}", f"--timeout={DEFAULT_TEST_TIMEOUT}", "--start-servers",
        "--bec-redis-cmd", find_redis_server(), "--files-path", str(workdir), "-rA", "-v",
        *(str(env.e2e_dir / name) for name in exp.files),
    ]  # fmt: skip
    with (workdir / "pytest.log").open("w") as log:
        proc = subprocess.run(
            cmd, cwd=env.tests_dir.parent, stdout=log, stderr=subprocess.STDOUT, env=_stock_env()
        )
    results = parse_report_log(report_log) if report_log.is_file() else {}
    return {
        "bec_version": BEC_VERSION, "against": "stock BEC services",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "seconds": round(time.time() - started, 1), "pytest_exit": proc.returncode, "commit": _commit(),
        "results": {k: asdict(v) for k, v in sorted(results.items())}, "stack_logs": {}, "stop_output": "",
    }  # fmt: skip


def _preflight(env: StockEnv, address: str, timeout: float = 20.0) -> str:
    """Empty if a stock client would find every service it waits for; else why it would hang forever."""
    proc = subprocess.run(
        [str(env.python), "-c", _PREFLIGHT, address, str(timeout), *STOCK_WAITS_FOR],
        capture_output=True, text=True, timeout=timeout + 60, env=_stock_env(),
    )  # fmt: skip
    if proc.returncode == 0:
        return ""
    names = proc.stdout.strip() or proc.stderr.strip()[-500:]
    return f"not run: a stock client would wait forever for RUNNING heartbeats of: {names}"


def _record(
    started: float,
    exit_code: int | None,
    results: dict[str, Outcome],
    stack: BecCoreStack,
    stop_output: str = "",
) -> dict[str, Any]:
    return {
        "bec_version": BEC_VERSION,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "pytest_exit": exit_code,
        "commit": _commit(),
        "results": {k: asdict(v) for k, v in sorted(results.items())},
        "stack_logs": stack.logs(),
        "stop_output": stop_output,
    }


def _stock_env() -> dict[str, str]:
    """The environment for the stock suite: ours minus anything that points into our venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p != str(Path(sys.executable).parent)
    )
    return env


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def results_of(record: dict[str, Any]) -> dict[str, Outcome]:
    """The :class:`Outcome` objects of a run record (as written by :func:`run_suite`)."""
    return {k: Outcome(**v) for k, v in record["results"].items()}


def save(record: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(record, indent=1, sort_keys=True))
