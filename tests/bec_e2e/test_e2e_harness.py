"""The e2e runner's own parts: reading pytest's JUnit XML and comparing with the expectations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from suite import Expectations, Outcome, compare, parse_report_log

SAMPLE = '''
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")

def test_ok():
    pass

def test_bad():
    assert 1 == 2, "one is not two"

def test_setup_error(broken):
    pass

@pytest.mark.skip(reason="not here")
def test_skipped():
    pass

@pytest.fixture
def breaks_after():
    yield
    raise RuntimeError("teardown broke")

def test_teardown_error(breaks_after):
    pass

@pytest.mark.parametrize("x", ["a-b", "c"])
def test_param(x):
    assert x == "c"
'''


def test_report_log_of_a_real_pytest_run_gives_each_outcome(tmp_path: Path) -> None:
    (tmp_path / "test_sample_e2e.py").write_text(SAMPLE)
    log = tmp_path / "report.jsonl"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--report-log={log}", "test_sample_e2e.py"],
        cwd=tmp_path, capture_output=True, timeout=120,
    )  # fmt: skip
    results = parse_report_log(log)
    outcomes = {k: v.outcome for k, v in results.items()}
    assert outcomes == {
        "test_sample_e2e.py::test_ok": "passed",
        "test_sample_e2e.py::test_bad": "failed",
        "test_sample_e2e.py::test_setup_error": "error",
        "test_sample_e2e.py::test_skipped": "skipped",
        "test_sample_e2e.py::test_teardown_error": "error",
        "test_sample_e2e.py::test_param[a-b]": "failed",
        "test_sample_e2e.py::test_param[c]": "passed",
    }
    assert "one is not two" in results["test_sample_e2e.py::test_bad"].message
    assert "fixture broke" in results["test_sample_e2e.py::test_setup_error"].message
    assert "teardown broke" in results["test_sample_e2e.py::test_teardown_error"].message
    assert results["test_sample_e2e.py::test_skipped"].message == "Skipped: not here"


def test_compare_names_every_departure_from_the_expectations() -> None:
    exp = Expectations(files=["f.py"], excluded={}, must_pass={"f.py::a", "f.py::b", "f.py::gone"},
                       gaps={"f.py::c": "no file writer", "f.py::d": "no DAP", "f.py::e": "racy"},
                       unstable={"f.py::e"})  # fmt: skip
    results = {
        "f.py::a": Outcome("passed", 1.0),
        "f.py::b": Outcome("failed", 1.0, "AssertionError: samx at 15.0\nmore"),
        "f.py::c": Outcome("passed", 1.0),
        "f.py::d": Outcome("error", 1.0),
        "f.py::e": Outcome("passed", 1.0),
        "f.py::new": Outcome("passed", 1.0),
    }
    problems = compare(results, exp)
    assert problems == [
        "f.py::b: must pass, got failed: AssertionError: samx at 15.0",
        "f.py::gone: must pass, but it did not run",
        "f.py::c: known gap (no file writer) now passes: mark it must_pass",
        "f.py::new: not in expectations.yaml (passed): classify it",
    ]


def test_checked_in_expectations_classify_every_test_once() -> None:
    exp = Expectations.load()
    assert exp.files and not (exp.must_pass & set(exp.gaps))
    assert all(reason.strip() for reason in exp.gaps.values())
    assert {t.split("::")[0] for t in exp.known()} == set(exp.files)
