"""Stock BEC 4.3.2's own end-to-end suite, stock client, against bec-core: as expectations.yaml says.

This is the acceptance test of the drop-in promise. It prepares the stock
environment (cached), starts bec-core's stack with ``bec-server start``, runs
the suite unchanged and compares every test id with ``expectations.yaml``.
It runs last (tests/conftest.py orders it) and takes minutes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from stock_env import prepare
from suite import Expectations, compare, results_of, run_suite, save

pytestmark = [pytest.mark.bec_e2e, pytest.mark.system]


@pytest.mark.timeout(45 * 60)
def test_stock_bec_e2e_suite_matches_expectations(tmp_path: Path) -> None:
    exp = Expectations.load()
    record = run_suite(prepare(), exp, tmp_path)
    keep = os.environ.get("BEC_E2E_RECORD")
    if keep:
        save(record, Path(keep))
    results = results_of(record)
    assert results, f"the suite ran no test (pytest exit {record['pytest_exit']}); see {tmp_path / 'pytest.log'}"
    problems = compare(results, exp)
    logs = json.dumps(record["stack_logs"], indent=1)[-6000:] if problems else ""
    assert not problems, "\n".join(problems) + f"\n\npytest log: {tmp_path / 'pytest.log'}\n{logs}"
