"""Issue 11, after defect 1: a point is published once, also when its write is retried.

redis-py retries a pipeline whose connection dropped before the reply came
(``OutageRetry``): if Redis had executed it, the point's segment went out
twice. The publisher now writes a point with one script that sets the point's
public key only if it does not exist yet and publishes the segment only then,
so the retried write publishes nothing. (Replies to instructions sent again
after a reconnection were already answered once: the device server keeps a
reply cache and the scan server ignores a reply to an instruction no longer
pending.)

``test_a_point_written_twice_is_published_once``: the same point queued twice,
as a retried pipeline sends it again. ``test_connections_killed_mid_scan``: the
scan server's command connections are closed by ``CLIENT KILL`` again and
again during a 300-point scan; every point is stored and none is published
twice.
"""

from __future__ import annotations

from collections import Counter

import pytest
from bec_scan_server.publisher import DataPublisher
from faultkit import FaultStack
from ss_harness import Recorder, all_endpoints, request, scan_id_of, submit, wait_services

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ProgressMessage
from bec_core.redis_connector import AsyncRedisConnector

DEADLINE = 60.0
POINTS = 300


async def test_a_point_written_twice_is_published_once(clean_redis: str) -> None:
    conn = await AsyncRedisConnector(clean_redis).connect()
    publisher = DataPublisher(conn, segment_expiry_s=60)
    publisher.start()
    try:
        async with conn.subscribe(MessageEndpoints.scan_segment()) as sub:
            for point in (0, 1, 1, 2, 2, 2):  # 1 and 2 written again, as a retried pipeline does
                progress = ProgressMessage(value=point + 1, max_value=3, done=point == 2)
                publisher.point("s", point, {"samx": {"samx": {"value": point}}}, {"scan_id": "s"}, progress)
            publisher.point("s", 3, {}, {"scan_id": "s"}, ProgressMessage(value=4, max_value=4, done=True))
            await publisher.flush()
            seen = []
            while not seen or seen[-1] != 3:
                seen.append((await sub.get(timeout=10)).value.point_id)
        assert seen == [0, 1, 2, 3]
        assert len(await conn.keys(MessageEndpoints.public_scan_segment("s"))) == 4
    finally:
        await publisher.close()
        await conn.close()


@pytest.mark.system
# the device server publishes the segments of points sent ahead (ADR 0001): its connections too
@pytest.mark.parametrize("service", ["ScanServer", "DeviceServer"])
async def test_connections_killed_mid_scan_publish_each_point_once(
    fault_stack: FaultStack, client, service: str
):
    fault_stack.start()
    await wait_services(client, ["ScanServer", "ScanBundler", "DeviceServer"], DEADLINE)
    rec = await Recorder(client).follow(**all_endpoints())
    msg = request("line_scan", {"samx": [0, 1]}, steps=POINTS, exp_time=0, relative=False)
    assert (await submit(client, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    killed, next_kill = 0, 20

    def ended() -> bool:
        return bool({"closed", "aborted"} & set(rec.statuses(scan_id)))

    while not ended():
        seen = len(rec.segments(scan_id))
        if seen >= next_kill:  # every 25 points: close the service's command connections
            next_kill += 25
            killed += await _kill_command_connections(client, service)
        await rec.wait_for(
            lambda n=seen: len(rec.segments(scan_id)) > n or ended(), "the scan going on", DEADLINE
        )
    assert "closed" in rec.statuses(scan_id), (rec.statuses(scan_id), fault_stack.logs())
    ids = Counter(s.point_id for s in rec.segments(scan_id))
    twice = sorted(i for i, n in ids.items() if n > 1)
    stored = len(await client.keys(MessageEndpoints.public_scan_segment(scan_id)))
    print(
        f"\nFIGURE {killed} {service} connections killed mid-scan: {stored} of {POINTS} stored, "
        f"{len(ids)} seen, {len(twice)} published twice"
    )
    assert killed > 0
    assert stored == POINTS
    assert twice == []


async def _kill_command_connections(client: AsyncRedisConnector, name: str) -> int:
    """``CLIENT KILL`` every command (not pub/sub) connection named ``name``; how many."""
    killed = 0
    listing = (await client.redis.execute_command("CLIENT", "LIST", "TYPE", "normal")).decode()
    for line in listing.splitlines():
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if fields.get("name") == name:
            await client.redis.execute_command("CLIENT", "KILL", "ID", fields["id"])
            killed += 1
    return killed
