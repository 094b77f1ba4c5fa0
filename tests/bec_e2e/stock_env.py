"""The stock BEC 4.3.2 side of the e2e suite: its own virtual environment and the suite's files.

Stock BEC's console scripts (``bec``, ``bec-server``, ``bec-scan-server``,
``bec-device-server``) have our names, so the stock client never goes into
bec-core's environment: it gets a virtual environment of its own, made once
and cached (keyed by the package list) under ``$BEC_E2E_CACHE``, by default
``~/.cache/bec-core/bec-e2e``. The test files come unchanged from the source
distribution of ``bec-ipython-client==4.3.2``, downloaded with pip and
extracted into the same cache; nothing of it is kept in this repository.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BEC_VERSION = "4.3.2"

#: What BEC's own CI installs to run the end-to-end suite: the stock client and
#: fixtures, the test requirements of bec-ipython-client's ``dev`` extra that
#: the suite uses, and the plugin package some tests rely on; plus
#: pytest-reportlog, which records each result as it happens (our runner reads it).
STOCK_REQUIREMENTS: tuple[str, ...] = (
    f"bec-ipython-client=={BEC_VERSION}",
    f"bec-lib=={BEC_VERSION}",
    f"bec-server=={BEC_VERSION}",
    f"pytest-bec-e2e=={BEC_VERSION}",
    "bec-testing-plugin==0.4.0",
    "pytest>=8,<10",
    "pytest-timeout~=2.2",
    "pytest-retry~=1.1",
    "pytest-redis>=3.1,<6.0",
    "pytest-reportlog>=0.4",
    "typer",
    "copier",
    "black",
    "isort",
)

SDIST = f"bec-ipython-client=={BEC_VERSION}"
SDIST_DIR = f"bec_ipython_client-{BEC_VERSION}"


class StockEnvError(RuntimeError):
    """The stock environment or the suite's files could not be prepared; the text says which step."""


@dataclass(frozen=True)
class StockEnv:
    """A ready stock environment: its interpreter and the extracted ``tests/`` directory."""

    python: Path
    tests_dir: Path

    @property
    def e2e_dir(self) -> Path:
        """``tests/end-2-end`` of the source distribution."""
        return self.tests_dir / "end-2-end"


def cache_dir() -> Path:
    """Where the stock venv and the source distribution are kept between runs."""
    configured = os.environ.get("BEC_E2E_CACHE")
    base = Path(configured) if configured else Path.home() / ".cache" / "bec-core" / "bec-e2e"
    base.mkdir(parents=True, exist_ok=True)
    return base


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One preparer at a time (two test runs on one machine share the cache)."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(cmd: list[str], step: str, timeout: float) -> None:
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_PROGRESS_BAR="off")
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise StockEnvError(f"{step}: no result within {timeout:.0f} s ({' '.join(cmd)})") from None
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise StockEnvError(f"{step} failed (exit {result.returncode}):\n" + "\n".join(tail))


def _venv(root: Path) -> Path:
    key = hashlib.sha256("\n".join(STOCK_REQUIREMENTS).encode()).hexdigest()[:12]
    venv = root / f"venv-{key}"
    python = venv / "bin" / "python"
    done = venv / ".complete"
    if done.is_file() and python.is_file():
        return python
    if venv.exists():
        shutil.rmtree(venv)
    _run([sys.executable, "-m", "venv", str(venv)], "creating the stock venv", 120)
    _run(
        [str(python), "-m", "pip", "install", "-q", *STOCK_REQUIREMENTS],
        f"installing stock BEC {BEC_VERSION} into {venv}",
        1200,
    )
    done.write_text("\n".join(STOCK_REQUIREMENTS) + "\n")
    return python


def _suite(root: Path, python: Path) -> Path:
    tests_dir = root / SDIST_DIR / "tests"
    if (tests_dir / "end-2-end").is_dir():
        return tests_dir
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        _run(
            [str(python), "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", tmp, SDIST],
            f"downloading the source distribution of {SDIST}",
            300,
        )
        archives = list(Path(tmp).glob("*.tar.gz"))
        if not archives:
            raise StockEnvError(f"pip download of {SDIST} left no .tar.gz in {tmp}")
        with tarfile.open(archives[0]) as archive:
            members = [m for m in archive.getmembers() if m.name.startswith(f"{SDIST_DIR}/tests/")]
            archive.extractall(root, members=members, filter="data")
    if not (tests_dir / "end-2-end").is_dir():
        raise StockEnvError(f"{SDIST} has no tests/end-2-end directory")
    return tests_dir


def prepare() -> StockEnv:
    """Make (or reuse) the stock venv and the extracted suite; raises :class:`StockEnvError`."""
    root = cache_dir()
    with _locked(root / ".lock"):
        python = _venv(root)
        return StockEnv(python=python, tests_dir=_suite(root, python))
