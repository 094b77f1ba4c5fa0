"""Drive stock BEC through stock bec_lib's BECClient (run with the stock BEC virtual environment's python).

    BEC_VENV/bin/python bench/stock_driver.py --port PORT --pids scan=123,device=456,redis=789 \
        --configs 4=/tmp/d4.yaml 50=/tmp/d50.yaml --sizes 10 100 1000 --repeats 3 --umv 20

Imports nothing from bec-core. For each device set it loads the YAML with
``bec.config.update_session_with_file`` and times
``bec.scans.line_scan(samx, -5, 5, steps=N, exp_time=0, relative=False)``
from the call to the arrival of the last point's scan segment (a callback on
``scans/scan_segment`` registered through the client's connector), exactly the
interval bec-core's benchmark times; each scan is then awaited with
``report.wait()`` (untimed) so the next one starts on an idle queue. It also
records the segment intervals, CPU per point of the given pids and Redis
commands per point for the largest N, and the ``umv`` round trip (call → the
request's ``req_status`` stream entry). Prints one JSON line at the end;
progress goes to stderr.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pids", default="")
    parser.add_argument("--configs", nargs="+", required=True, help="MONITORS=PATH")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--umv", type=int, default=20)
    args = parser.parse_args()
    pids = {k: int(v) for k, v in (p.split("=") for p in args.pids.split(",") if p)}

    import redis
    from bec_lib.client import BECClient
    from bec_lib.endpoints import MessageEndpoints
    from bec_lib.service_config import ServiceConfig

    raw = redis.Redis(host=args.host, port=args.port)
    out: dict[str, object] = {"scans": {}, "where": {}, "hist": {}, "umv_s": [], "errors": []}
    t0 = time.perf_counter()
    client = BECClient(ServiceConfig(redis={"host": args.host, "port": args.port}), forced=True)
    client.start()
    out["client_start_in_process_s"] = time.perf_counter() - t0

    state: dict[str, object] = {"target": -1, "arrivals": [], "event": threading.Event()}

    def on_segment(msg, **_kwargs) -> None:
        now = time.perf_counter()
        values = msg.value if isinstance(msg.value, list) else [msg.value]
        for value in values:
            point_id = getattr(value, "point_id", None)
            if point_id is None:
                continue
            state["arrivals"].append(now)  # type: ignore[union-attr]
            if point_id == state["target"]:
                state["event"].set()  # type: ignore[union-attr]

    client.connector.register(MessageEndpoints.scan_segment(), cb=on_segment)
    try:
        for spec in args.configs:
            monitors_s, path = spec.split("=", 1)
            monitors = int(monitors_s)
            t0 = time.perf_counter()
            client.config.update_session_with_file(path)
            log(f"config {monitors} monitors loaded in {time.perf_counter() - t0:.1f} s")
            dev = client.device_manager.devices

            def scan(steps: int, dev=dev) -> tuple[float, list[float]]:
                state["target"] = steps - 1
                state["arrivals"] = []
                event = state["event"]
                event.clear()  # type: ignore[union-attr]
                t0 = time.perf_counter()
                report = client.scans.line_scan(dev.samx, -5, 5, steps=steps, exp_time=0, relative=False)
                if not event.wait(120 + steps * 0.2):  # type: ignore[union-attr]
                    raise TimeoutError(f"no segment for point {steps - 1}")
                elapsed = time.perf_counter() - t0
                report.wait(timeout=120, file_written=False)
                return elapsed, list(state["arrivals"])  # type: ignore[arg-type]

            scan(5)  # warm-up
            rows = {}
            biggest = max(args.sizes)
            cpu_pp: dict[str, list[float]] = {}
            cmds_pp: list[float] = []
            mix: Counter[str] = Counter()
            for steps in args.sizes:
                times = []
                for _ in range(args.repeats):
                    if steps == biggest:
                        cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
                        c0 = Counter({k: v["calls"] for k, v in raw.info("commandstats").items()})
                    seconds, arrivals = scan(steps)
                    times.append(seconds)
                    if steps == biggest:
                        cpu1 = {k: cpu_seconds(p) for k, p in pids.items()}
                        c1 = Counter({k: v["calls"] for k, v in raw.info("commandstats").items()})
                        for k in pids:
                            cpu_pp.setdefault(k, []).append((cpu1[k] - cpu0[k]) / steps * 1e3)
                        delta = c1 - c0
                        delta.pop("cmdstat_info", None)
                        mix += delta
                        cmds_pp.append(sum(delta.values()) / steps)
                        arr = arrivals
                        out["hist"][str(monitors)] = [(b - a) * 1e3 for a, b in itertools.pairwise(arr)]  # type: ignore[index]
                    log(f"{monitors} monitors N={steps}: {seconds * 1e3:.0f} ms")
                rows[str(steps)] = times
            out["scans"][str(monitors)] = rows  # type: ignore[index]
            total = sum(mix.values()) or 1
            per_pt = statistics.median(cmds_pp) if cmds_pp else 0.0
            out["where"][str(monitors)] = {  # type: ignore[index]
                "cmds_per_point": per_pt,
                "cpu_ms_per_point": {k: statistics.median(v) for k, v in cpu_pp.items()},
                "mix": [(k.removeprefix("cmdstat_"), n / total * per_pt) for k, n in mix.most_common(6)],
            }
            if monitors == int(args.configs[0].split("=")[0]) and args.umv:
                for i in range(args.umv + 2):
                    t0 = time.perf_counter()
                    report = client.scans.umv(dev.samx, float(1 + i % 2), relative=False)
                    key = MessageEndpoints.device_req_status(report.request.requestID).endpoint
                    got = raw.xread({key: "0-0"}, block=30_000)
                    elapsed = time.perf_counter() - t0
                    if not got:
                        out["errors"].append("umv: no req_status within 30 s")  # type: ignore[union-attr]
                        break
                    if i >= 2:  # warm-up
                        out["umv_s"].append(elapsed)  # type: ignore[union-attr]
                    report.wait(timeout=30, file_written=False)
    except Exception as exc:  # report what failed, keep what was measured
        out["errors"].append(f"{type(exc).__name__}: {exc}")  # type: ignore[union-attr]
    finally:
        client.shutdown()
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
