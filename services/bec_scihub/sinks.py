"""Logbook sinks: where SciHub delivers messages meant for SciLog, Teams or Signal.

The plug-in point is the entry-point group :data:`ENTRY_POINT_GROUP`
(``bec_core.logbook_sinks``); ``scihub.logbook.sinks`` names the entry points to
use. An entry point names a class that is built as ``cls(context)`` with a
:class:`SinkContext` and has ``async deliver(record)`` and ``async close()``
(:class:`LogbookSink`). bec-core ships two:

``file``
    appends one JSON object per line to ``scihub.logbook.file`` (default
    ``<state_dir>/scihub/logbook.jsonl``); attachments are written next to it
    under ``attachments/``.
``stream``
    adds the record, as JSON in field ``record``, to the Redis stream
    :data:`STREAM_KEY` (trimmed to about ``scihub.logbook.stream_maxlen`` entries).

A site's connector to its real SciLog (or Atlas) is a package registering one more
entry point in that group; names arriving over the wire are never imported.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from bec_core.config import LogbookSettings
from bec_core.messages import (
    MessagingServiceFileContent,
    MessagingServiceMessage,
    MessagingServiceTagsContent,
    MessagingServiceTextContent,
)
from bec_core.redis_connector import AsyncRedisConnector
from bec_scihub.errors import SinkConfigError

ENTRY_POINT_GROUP = "bec_core.logbook_sinks"
#: Redis stream of the ``stream`` sink (internal: ours to define).
STREAM_KEY = "internal/scihub/logbook"


@dataclass(frozen=True)
class LogbookRecord:
    """One delivered message, flattened for a logbook: text, tags and attachments."""

    entry_id: str
    service: str
    scope: str | list[str] | None
    text: list[str]
    tags: list[str]
    attachments: list[MessagingServiceFileContent] = field(default_factory=list)
    other: list[dict[str, Any]] = field(default_factory=list)
    timestamp: float = 0.0

    @classmethod
    def from_message(cls, entry_id: str, msg: MessagingServiceMessage, timestamp: float) -> LogbookRecord:
        """Sort the content blocks of ``msg`` into text, tags, attachments and the rest."""
        text: list[str] = []
        tags: list[str] = []
        files: list[MessagingServiceFileContent] = []
        other: list[dict[str, Any]] = []
        for block in msg.message:
            if isinstance(block, MessagingServiceTextContent):
                text.append(block.content)
            elif isinstance(block, MessagingServiceTagsContent):
                tags.extend(t for t in block.tags if t not in tags)
            elif isinstance(block, MessagingServiceFileContent):
                files.append(block)
            else:
                other.append({"type": type(block).__name__, **block.model_dump()})
        return cls(entry_id, msg.service_name, msg.scope, text, tags, files, other, timestamp)

    def as_json(self, attachment_paths: list[str] | None = None) -> dict[str, Any]:
        """The record as a JSON-serialisable dict (attachments by name, size and path)."""
        files = []
        for i, item in enumerate(self.attachments):
            entry: dict[str, Any] = {"filename": item.filename, "mime_type": item.mime_type}
            entry["size"] = len(item.data)
            if attachment_paths is not None:
                entry["path"] = attachment_paths[i]
            files.append(entry)
        return {
            "id": self.entry_id,
            "timestamp": self.timestamp,
            "service": self.service,
            "scope": self.scope,
            "text": self.text,
            "tags": self.tags,
            "attachments": files,
            "other": self.other,
        }


@dataclass(frozen=True)
class SinkContext:
    """What a sink is built with: its settings, the state directory and the connector."""

    settings: LogbookSettings
    state_dir: Path
    connector: AsyncRedisConnector


class LogbookSink(Protocol):
    """What a sink class offers."""

    async def deliver(self, record: LogbookRecord) -> None:
        """Take one record; raise to have it delivered again later."""

    async def close(self) -> None:
        """Release what the sink holds."""


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FileSink:
    """Appends records as JSON lines to a file (attachments in ``attachments/`` beside it)."""

    def __init__(self, context: SinkContext) -> None:
        self.path = context.settings.file or context.state_dir / "scihub" / "logbook.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _write(self, record: LogbookRecord) -> None:
        paths = []
        for i, item in enumerate(record.attachments):
            folder = self.path.parent / "attachments"
            folder.mkdir(exist_ok=True)
            name = _UNSAFE.sub("_", Path(item.filename).name) or "attachment"
            target = folder / f"{record.entry_id}-{i}-{name}"
            target.write_bytes(item.data)
            paths.append(str(target))
        line = json.dumps(record.as_json(paths), ensure_ascii=False, default=str)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    async def deliver(self, record: LogbookRecord) -> None:
        """Append the record (in a worker thread: file I/O never blocks the loop)."""
        await asyncio.to_thread(self._write, record)

    async def close(self) -> None:
        """Nothing to release: every record is written and closed at once."""


class StreamSink:
    """Adds records as JSON to the Redis stream :data:`STREAM_KEY`."""

    def __init__(self, context: SinkContext) -> None:
        self.connector = context.connector
        self.maxlen = context.settings.stream_maxlen

    async def deliver(self, record: LogbookRecord) -> None:
        """XADD the record (attachments by name and size only)."""
        data = json.dumps(record.as_json(), ensure_ascii=False, default=str)
        await self.connector.redis.xadd(STREAM_KEY, {"record": data}, maxlen=self.maxlen, approximate=True)

    async def close(self) -> None:
        """The connector belongs to the service."""


def load_sinks(context: SinkContext) -> list[LogbookSink]:
    """Build the sinks ``context.settings.sinks`` names from the entry-point group.

    Raises:
        SinkConfigError: a name is not installed in the group, or its class cannot be built.
    """
    available = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    sinks: list[LogbookSink] = []
    for name in context.settings.sinks:
        ep = available.get(name)
        if ep is None:
            known = ", ".join(sorted(available)) or "none: is bec-core installed?"
            raise SinkConfigError(f"scihub.logbook.sinks: no sink {name!r} in {ENTRY_POINT_GROUP} ({known})")
        try:
            sinks.append(ep.load()(context))
        except Exception as exc:
            raise SinkConfigError(f"scihub.logbook.sinks: sink {name!r} ({ep.value}) failed: {exc}") from exc
    return sinks
