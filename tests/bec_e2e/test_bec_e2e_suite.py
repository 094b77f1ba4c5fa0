"""Stock BEC 4.3.2's own end-to-end suite, stock client, against bec-core: as expectations.yaml says.

This is the acceptance test of the drop-in promise. The run (prepare the
cached stock environment, start bec-core's stack with ``bec-server start``, run
the suite unchanged) starts in the background when the session is collected
(tests/conftest.py) and overlaps the other tests; this test, ordered last,
waits for it and compares every test id with ``expectations.yaml``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from bec_e2e_background import E2E_RUN
from suite import Expectations, compare, results_of, save

pytestmark = [pytest.mark.bec_e2e, pytest.mark.system]


@pytest.mark.timeout(50 * 60)
def test_stock_bec_e2e_suite_matches_expectations(request: pytest.FixtureRequest) -> None:
    exp = Expectations.load()
    run = request.config.stash[E2E_RUN]
    record = run.result(timeout=45 * 60)
    tmp_path = run.workdir
    keep = os.environ.get("BEC_E2E_RECORD")
    if keep:
        save(record, Path(keep))
    results = results_of(record)
    assert results, f"the suite ran no test (pytest exit {record['pytest_exit']}); see {tmp_path / 'pytest.log'}"
    problems = compare(results, exp)
    logs = json.dumps(record["stack_logs"], indent=1)[-6000:] if problems else ""
    assert not problems, "\n".join(problems) + f"\n\npytest log: {tmp_path / 'pytest.log'}\n{logs}"
