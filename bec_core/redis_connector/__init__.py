"""Redis connectors: :class:`AsyncRedisConnector` (asyncio) and :class:`RedisConnector` (sync facade)."""

from bec_core.redis_connector.async_connector import AsyncRedisConnector, Pipe, normalize_url
from bec_core.redis_connector.base import ConnectorStats, MessageObject, StreamEntry
from bec_core.redis_connector.pubsub import Subscription
from bec_core.redis_connector.sync_connector import RedisConnector, new_event_loop

__all__ = [
    "AsyncRedisConnector",
    "ConnectorStats",
    "MessageObject",
    "Pipe",
    "RedisConnector",
    "StreamEntry",
    "Subscription",
    "new_event_loop",
    "normalize_url",
]
