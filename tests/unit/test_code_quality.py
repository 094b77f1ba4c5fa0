"""The standing code checks: ruff over the tree, mypy over bec_core (ARCHITECTURE.md, Style)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_clean() -> None:
    pytest.importorskip("ruff")
    result = run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_clean_on_bec_core() -> None:
    pytest.importorskip("mypy")
    result = run("mypy", "--ignore-missing-imports", "--no-incremental", "bec_core")
    assert result.returncode == 0, result.stdout + result.stderr
