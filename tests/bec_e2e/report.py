"""``docs/compatibility.md`` from a run record of :func:`suite.run_suite`."""

from __future__ import annotations

from collections import Counter
from typing import Any

from suite import Expectations, results_of

COMMAND = ".venv/bin/python tests/bec_e2e/run_bec_e2e.py --doc docs/compatibility.md"


def compatibility_markdown(record: dict[str, Any], exp: Expectations, stock: dict[str, Any]) -> str:
    """The page: per-file counts beside stock's, every known gap with its reason, what was left out."""
    results = results_of(record)
    lines = [
        "# Compatibility with stock BEC's end-to-end suite",
        "",
        f"BEC {record['bec_version']}'s own end-to-end tests (`tests/end-2-end/` of the "
        f"`bec-ipython-client=={record['bec_version']}` source distribution, fixtures from "
        f"`pytest-bec-e2e=={record['bec_version']}`), run unchanged with the **stock client** against "
        "bec-core's stack (`bec-server start`). Generated from the run of "
        f"{record['date']} at commit `{record['commit']}` ({record['seconds'] / 60:.1f} min) by:",
        "",
        f"```bash\n{COMMAND}\n```",
        "",
        "The same run is part of the README's test command (`tests/bec_e2e/test_bec_e2e_suite.py`), which",
        "compares every test id with `tests/bec_e2e/expectations.yaml`: a must-pass that fails, or a known",
        "gap that passes, fails the test run.",
        "",
        "Stock's column is `stock_results` in the expectations file: stock BEC 4.3.2's six services on",
        "this kind of machine (2 cores), same files, same client; `run_bec_e2e.py --stock` measures it again.",
        "",
        "| file | bec-core passed | run | stock BEC 4.3.2 passed (same machine) |",
        "|---|---:|---:|---:|",
    ]
    total = Counter[str]()
    for name in exp.files:
        ids = [k for k in results if k.startswith(name + "::")]
        passed = sum(results[k].outcome == "passed" for k in ids)
        ref = stock.get(name, {})
        lines.append(f"| `{name}` | {passed} | {len(ids)} | {ref.get('passed', '?')} of {ref.get('run', '?')} |")
        total.update(passed=passed, run=len(ids), stock=int(ref.get("passed", 0)), stock_run=int(ref.get("run", 0)))
    lines.append(
        f"| **all** | **{total['passed']}** | {total['run']} | {total['stock']} of {total['stock_run']} |"
    )
    lines += ["", "## Known gaps", ""]
    if not exp.gaps:
        lines.append("None.")
    for test_id, reason in sorted(exp.gaps.items()):
        got = results.get(test_id)
        status = got.outcome if got else "not run"
        lines.append(f"- `{test_id}` ({status}): {reason}")
    lines += ["", "## Not run", ""]
    for name, reason in exp.excluded.items():
        lines.append(f"- `{name}`: {reason}")
    lines.append("")
    return "\n".join(lines)
