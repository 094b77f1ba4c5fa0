"""Drive stock BEC's device server alone with step-scan points (run with the stock venv's python).

    STOCK_VENV/bin/python bench/stock_device_driver.py --port PORT --pid DS_PID --redis-pid PID \
        --monitors 4 --points 300 --repeats 3 --warmup 50

Imports nothing from bec-core. One point is what stock's scan server sends the
device server for a ``line_scan`` point with ``exp_time=0`` and no
software-triggered devices (``scan_components.step_scan_at_each_point``): a
``set`` of ``samx`` (waited for), then a ``read`` of the monitored devices,
``samx`` included as a scan motor (waited for); there is no ``trigger``
instruction when no device is software-triggered. Each instruction is sent as
stock's scan server sends it (``connector.send(device_instructions(), ...)``)
and its final ``DeviceInstructionResponse`` is awaited on
``device_instructions_response``. Prints one JSON line: points/s and CPU ms per
point of the device server and of redis-server for every repeat.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid

from stock_driver import cpu_seconds  # the same folder, run with the same stock python


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--redis-pid", type=int, default=0)
    parser.add_argument("--monitors", type=int, required=True)
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()

    import redis
    from bec_lib import messages
    from bec_lib.endpoints import MessageEndpoints
    from bec_lib.serialization import MsgpackSerialization

    raw = redis.Redis(port=args.port)
    pubsub = raw.pubsub()
    reply_channel = MessageEndpoints.device_instructions_response().endpoint
    instr_channel = MessageEndpoints.device_instructions().endpoint
    pubsub.subscribe(reply_channel)
    while pubsub.get_message(timeout=1.0) is None:
        pass  # the subscribe confirmation
    scan_id, rid, queue_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    read_devices = sorted(["samx", *(f"mon{i}" for i in range(args.monitors))])

    def send_and_wait(device: object, action: str, parameter: dict, point_id: int) -> None:
        instr_id = str(uuid.uuid4())
        msg = messages.DeviceInstructionMessage(
            device=device,
            action=action,
            parameter=parameter,
            metadata={
                "device_instr_id": instr_id,
                "scan_id": scan_id,
                "RID": rid,
                "queue_id": queue_id,
                "point_id": point_id,
                "readout_priority": "monitored",
            },
        )
        raw.publish(instr_channel, MsgpackSerialization.dumps(msg))
        deadline = time.monotonic() + 30.0
        while True:
            item = pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if item is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no reply to {action} of point {point_id} within 30 s")
                continue
            if item["type"] != "message":
                continue
            reply = MsgpackSerialization.loads(item["data"])
            if reply.instruction_id != instr_id or reply.status == "running":
                continue
            if reply.status != "completed":
                raise RuntimeError(f"{action} of point {point_id} failed: {reply.error_info}")
            return

    point_id = 0

    def points(n: int) -> None:
        nonlocal point_id
        for _ in range(n):
            target = -5.0 + 10.0 * (point_id % 100) / 99
            send_and_wait("samx", "set", {"value": target}, point_id)
            send_and_wait(read_devices, "read", {}, point_id)
            point_id += 1

    points(args.warmup)
    out: dict[str, list[float]] = {"rates": [], "cpu_ms": [], "redis_cpu_ms": []}
    for _ in range(args.repeats):
        cpu0, rcpu0 = cpu_seconds(args.pid), cpu_seconds(args.redis_pid)
        t0 = time.perf_counter()
        points(args.points)
        wall = time.perf_counter() - t0
        out["rates"].append(args.points / wall)
        out["cpu_ms"].append((cpu_seconds(args.pid) - cpu0) / args.points * 1e3)
        out["redis_cpu_ms"].append((cpu_seconds(args.redis_pid) - rcpu0) / args.points * 1e3)
    pubsub.close()
    raw.close()
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
