"""Rough figures for bec-scihub (not a test): start-up, logbook delivery, ACL login-info refresh.

    .venv/bin/python tests/system/scihub/measure_scihub.py [--redis-port 6423] [--messages 200]

Starts its own redis-server on the given port and a ``bec-scihub`` process, sends messages
with stock bec_lib's SciLog service and reports how long they took to reach the file sink.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).parent))

from scihub_harness import SciHubProcess, read_records, settings_file, wait_for

from bec_core.redis_server import RedisServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-port", type=int, default=6423)
    parser.add_argument("--messages", type=int, default=40)  # stock clients trim the queue to ~50
    args = parser.parse_args()
    from bec_lib.messaging_services import SciLogMessagingService
    from bec_lib.redis_connector import RedisConnector

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = RedisServer(port=args.redis_port, persistence="none", data_dir=root, log_file=root / "r.log")
        server.start()
        book = root / "book.jsonl"
        hub = None
        conn = None
        try:
            t0 = time.perf_counter()
            hub = SciHubProcess(
                server.url,
                root / "state",
                settings_file(root / "s.yaml", logbook={"file": str(book), "sinks": ["file", "stream"]}),
                {},
            )
            hub.wait_running()
            startup = time.perf_counter() - t0
            conn = RedisConnector(server.address)
            scilog = SciLogMessagingService(conn)
            wait_for(lambda: scilog._enabled, 10, "enabled")
            raw = redis.Redis.from_url(server.url)
            last = "0-0"
            lat = []
            for i in range(50):  # one at a time: send, block on the stream sink (written after the file)
                t = time.perf_counter()
                scilog.new(f"seq{i}").send()
                reply = raw.xread({"internal/scihub/logbook": last}, count=1, block=10_000)
                lat.append(time.perf_counter() - t)
                last = reply[0][1][0][0]
            base = len(read_records(book))
            t = time.perf_counter()
            for i in range(args.messages):
                scilog.new(f"m{i}").send()
            wait_for(lambda: len(read_records(book)) >= base + args.messages, 60, "all")
            burst = time.perf_counter() - t
            print(f"bec-scihub start to SciHub RUNNING: {startup * 1000:.0f} ms")
            print(
                f"stock send -> file and stream sinks written, one at a time (n=50): median "
                f"{1000 * statistics.median(lat):.1f} ms, max {1000 * max(lat):.1f} ms"
            )
            print(
                f"{args.messages} messages sent back to back: all in the file after {1000 * burst:.0f} ms "
                f"({args.messages / burst:.0f} msg/s)"
            )
        finally:
            if conn is not None:
                conn.shutdown()
            if hub is not None:
                hub.stop()
            server.stop()


if __name__ == "__main__":
    main()
