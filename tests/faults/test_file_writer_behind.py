"""A writer that falls behind: Redis drops its pub/sub connection (output buffer limit), points and
even the scan's end are lost on the way; the writer catches up from the stored scan in Redis and
the file is complete."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import h5py
import numpy as np

TESTS = Path(__file__).resolve().parents[1]
for _helpers in ("integration/file_writer",):
    sys.path.insert(0, str(TESTS / _helpers))
from fw_harness import Writer, wait_file, wait_running  # noqa: E402

from bec_core.endpoints import MessageEndpoints  # noqa: E402
from bec_core.messages import ScanMessage, ScanStatusMessage  # noqa: E402
from bec_core.redis_connector import AsyncRedisConnector  # noqa: E402
from bec_core.redis_server import RedisServer  # noqa: E402
from bec_core.serialization import dumps  # noqa: E402

POINTS = 6000
MONITORS = 50


def status(scan_id: str, state: str, base: Path) -> ScanStatusMessage:
    devices = [f"mon{i}" for i in range(MONITORS)]
    info = {
        "scan_id": scan_id,
        "scan_number": 1,
        "scan_name": "line_scan",
        "num_points": POINTS,
        "num_monitored_readouts": POINTS,
        "readout_priority": {"monitored": devices, "baseline": [], "async": []},
        "scan_report_devices": ["mon0"],
        "file_components": (str(base / "S00001"), "h5"),
    }
    return ScanStatusMessage(
        scan_id=scan_id,
        status=state,
        scan_number=1,
        num_monitored_readouts=POINTS,  # type: ignore[arg-type]
        scan_parameters={"system_config": {}},
        info=info,
    )


async def test_writer_catches_up_after_redis_dropped_its_subscription(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    conn = await AsyncRedisConnector(own_redis.url).connect()
    writer = Writer(own_redis.url, tmp_path).start()
    try:
        await wait_running(conn)
        # A tiny pub/sub output buffer: Redis disconnects any subscriber 64 kB behind.
        await conn.redis.config_set("client-output-buffer-limit", "pubsub 64kb 32kb 1")
        scan_id = str(uuid.uuid4())
        opened = status(scan_id, "open", tmp_path / "data")
        await conn.set(MessageEndpoints.public_scan_info(scan_id), opened)  # as the scan server does
        await conn.set_and_publish(MessageEndpoints.scan_status(), opened)
        expected = []
        for start in range(0, POINTS, 6000):  # one pipeline: far more than socket buffers hold
            pipe = conn.pipeline()
            for point in range(start, start + 6000):
                data = {
                    f"mon{i}": {f"mon{i}": {"value": point * 100 + i, "timestamp": time.time()}}
                    for i in range(MONITORS)
                }
                expected.append(point * 100)
                raw = dumps(ScanMessage(point_id=point, scan_id=scan_id, data=data))
                pipe.set(MessageEndpoints.public_scan_segment(scan_id, point).endpoint, raw, ex=600)
                pipe.publish(MessageEndpoints.scan_segment().endpoint, raw)
            await pipe.execute()
        closed = status(scan_id, "closed", tmp_path / "data")
        await conn.set(MessageEndpoints.public_scan_info(scan_id), closed)
        await conn.set_and_publish(MessageEndpoints.scan_status(), closed)

        done = await wait_file(conn, scan_id, timeout=120)
        assert done.successful, writer.tail()
        with h5py.File(done.file_path, "r") as f:
            np.testing.assert_array_equal(f["entry/collection/devices/mon0/mon0/value"][...], expected)
            assert f["entry"].attrs["writer_status"] == "complete"
        assert "lost the pub/sub connection" in writer.log.read_text()  # the fault did happen
    finally:
        await conn.redis.config_set("client-output-buffer-limit", "pubsub 32mb 8mb 60")
        writer.stop()
        await conn.close()
