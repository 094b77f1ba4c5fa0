"""Run stock BEC 4.3.2's e2e suite against bec-core and compare with the expectations.

Usage (from the repository root, with bec-core installed in .venv)::

    .venv/bin/python tests/bec_e2e/run_bec_e2e.py                      # run, compare, print
    .venv/bin/python tests/bec_e2e/run_bec_e2e.py --doc docs/compatibility.md
    .venv/bin/python tests/bec_e2e/run_bec_e2e.py -k test_line_scan    # a subset (no comparison)
    .venv/bin/python tests/bec_e2e/run_bec_e2e.py --from-json RUN.json --doc docs/compatibility.md
    .venv/bin/python tests/bec_e2e/run_bec_e2e.py --stock        # the reference: stock BEC's own services
    .venv/bin/python tests/bec_e2e/run_bec_e2e.py --promote A.json B.json   # gaps that passed in every run → must_pass

Exit 0 when every test id is as expected, 1 otherwise, 2 when the stock side
could not be prepared.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml
from report import compatibility_markdown
from stock_env import StockEnvError, prepare
from suite import EXPECTATIONS, Expectations, compare, results_of, run_against_stock, run_suite, save


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="select", help="pytest -k expression: run a subset, skip the comparison")
    parser.add_argument("--doc", type=Path, help="write the compatibility page here")
    parser.add_argument("--json", type=Path, help="write the run record here")
    parser.add_argument("--from-json", type=Path, help="use this run record instead of running the suite")
    parser.add_argument("--stock", action="store_true", help="run against stock BEC's services (the reference)")
    parser.add_argument("--promote", type=Path, nargs="+", metavar="RUN.json",
                        help="mark as must_pass every known gap that passed in all of these run records")  # fmt: skip
    parser.add_argument("--workdir", type=Path, help="keep the stack's state, logs and report.jsonl here")
    args = parser.parse_args(argv)

    exp = Expectations.load()
    if args.promote:
        records = [results_of(json.loads(path.read_text())) for path in args.promote]
        passed = {t for t in exp.gaps if all(r.get(t) and r[t].outcome == "passed" for r in records)}
        text = EXPECTATIONS.read_text()
        for test_id in sorted(passed):
            text = re.sub(rf'^  "{re.escape(test_id)}": \{{gap: .*\}}$', f'  "{test_id}": must_pass', text, flags=re.M)
            print(f"must_pass  {test_id}")
        EXPECTATIONS.write_text(text)
        return 0
    if args.from_json:
        record = json.loads(args.from_json.read_text())
    else:
        try:
            env = prepare()
        except StockEnvError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bec-e2e-"))
        record = run_against_stock(env, exp, workdir) if args.stock else run_suite(env, exp, workdir, args.select)
        print(f"run record and logs in {workdir}")
        save(record, workdir / "run.json")
    if args.json:
        save(record, args.json)
    results = results_of(record)
    for test_id, got in results.items():
        print(f"{got.outcome:8s} {got.seconds:7.1f}s  {test_id}")
    print(f"{sum(r.outcome == 'passed' for r in results.values())} of {len(results)} passed "
          f"in {record['seconds'] / 60:.1f} min")  # fmt: skip
    if args.doc:
        stock = yaml.safe_load(EXPECTATIONS.read_text()).get("stock_results", {})
        args.doc.write_text(compatibility_markdown(record, exp, stock))
        print(f"wrote {args.doc}")
    if args.select or args.stock:
        return 0
    problems = compare(results, exp)
    for line in problems:
        print(f"UNEXPECTED  {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
