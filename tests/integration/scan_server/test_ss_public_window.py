"""Public per-point segment keys are kept for a window of the newest points, so Redis stays bounded."""

from __future__ import annotations

from bec_scan_server.publisher import DataPublisher

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ProgressMessage
from bec_core.redis_connector import AsyncRedisConnector


async def test_only_the_newest_points_keep_their_public_key(clean_redis: str) -> None:
    conn = await AsyncRedisConnector(clean_redis).connect()
    publisher = DataPublisher(conn, segment_expiry_s=60, window=3)
    publisher.start()
    try:
        async with conn.subscribe(MessageEndpoints.scan_segment()) as sub:
            for point in range(6):
                progress = ProgressMessage(value=point + 1, max_value=6, done=point == 5)
                publisher.point(
                    "s1", point, {"samx": {"samx": {"value": point}}}, {"scan_id": "s1"}, progress
                )
            await publisher.flush()
            seen = [(await sub.get(timeout=10)).value.point_id for _ in range(6)]
        assert seen == [0, 1, 2, 3, 4, 5]  # every point is published
        kept = await conn.keys(MessageEndpoints.public_scan_segment("s1"))
        assert sorted(int(k.rsplit("/", 1)[1]) for k in kept) == [3, 4, 5]
        assert 0 < await conn.redis.ttl(MessageEndpoints.public_scan_segment("s1", 5).endpoint) <= 60
    finally:
        await publisher.close()
        await conn.close()


async def test_window_zero_keeps_every_point(clean_redis: str) -> None:
    conn = await AsyncRedisConnector(clean_redis).connect()
    publisher = DataPublisher(conn, segment_expiry_s=60, window=0)
    publisher.start()
    try:
        for point in range(4):
            publisher.point("s2", point, {}, {}, ProgressMessage(value=point, max_value=4, done=False))
        await publisher.flush()
        assert len(await conn.keys(MessageEndpoints.public_scan_segment("s2"))) == 4
    finally:
        await publisher.close()
        await conn.close()
