"""The README's "Try it" commands, run in order from a fresh copy of the checkout, as a newcomer would.

A fresh virtual environment, ``pip install`` exactly as written, ``bec demo``, then each
next step (the shell through a pseudo-terminal, the ``--plot`` scan, status, stop). The
commands are taken from README.md itself, so an edit there is what gets tested. Only
the Redis address (``BEC_REDIS_URL``, a free port) and the state directory
(``BEC_STATE_DIR``) differ from a user's machine. It takes about two minutes (pip).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pexpect
import pytest

from bec_core.launcher.specs import SERVICES
from bec_core.redis_server import free_port

pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]
REPO = Path(__file__).resolve().parents[2]


def readme_blocks() -> list[list[str]]:
    """The bash blocks of the README's "Try it" section, one list of commands per block."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Try it", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [
        [line.split("#", 1)[0].strip() for line in b.splitlines() if line.split("#", 1)[0].strip()]
        for b in blocks
    ]


def fresh_copy(dest: Path) -> None:
    """The checkout's tracked files as they are now (what a clone of this commit would hold)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def test_readme_try_it_commands_work_in_order(tmp_path: Path) -> None:
    install, next_steps = readme_blocks()[:2]
    assert install == ["python3 -m venv .venv && .venv/bin/pip install -q -e '.[plot]' && .venv/bin/bec demo"]
    clone = tmp_path / "bec-core"
    fresh_copy(clone)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))},
        "PATH": ":".join(p for p in os.environ["PATH"].split(":") if ".venv" not in p),
        "BEC_REDIS_URL": f"redis://127.0.0.1:{free_port()}",
        "BEC_STATE_DIR": str(tmp_path / "state"),
        "COLUMNS": "120",
        "TERM": "dumb",
    }
    try:
        demo = subprocess.run(
            install[0], shell=True, cwd=clone, env=env, capture_output=True, text=True, timeout=800
        )
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        first = demo.stdout.splitlines()[0]
        assert first.startswith("no Redis at") and "starting the embedded one" in first  # item 11
        assert "Error 111" not in demo.stdout + demo.stderr
        assert "21 points, status closed" in demo.stdout
        shell, plot_scan, status, stop = next_steps
        assert shell == ".venv/bin/bec"
        session = pexpect.spawn(
            "/bin/sh",
            ["-c", shell],
            cwd=str(clone),
            env={**env, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"},
            encoding="utf-8",
            codec_errors="replace",
            timeout=60,
            dimensions=(40, 140),
        )
        session.expect(r"\[\d+\] bec > ")
        session.sendline("exit")
        session.expect(pexpect.EOF)
        session.close()
        assert session.exitstatus == 0
        scan = subprocess.run(
            plot_scan, shell=True, cwd=clone, env=env, capture_output=True, text=True, timeout=120
        )
        assert scan.returncode == 0, scan.stdout[-3000:] + scan.stderr[-3000:]  # item 2: --plot works
        assert "line_scan: bpm4i" in scan.stdout  # the plot's title names the hinted detector
        state = subprocess.run(
            status, shell=True, cwd=clone, env=env, capture_output=True, text=True, timeout=60
        )
        assert state.returncode == 0 and "scan-server" in state.stdout, state.stdout + state.stderr
    finally:
        stopped = subprocess.run(
            ".venv/bin/bec-server stop",
            shell=True,
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert stop == ".venv/bin/bec-server stop"
    assert stopped.returncode == 0 and stopped.stdout.count("stopped") == len(SERVICES) + 1, stopped.stdout + stopped.stderr
