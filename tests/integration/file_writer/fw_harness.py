"""Helpers for file-writer tests: the writer as a real process, replaying recorded stock scans,
waiting for FileMessages, describing files."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import BECStatus, FileMessage, ScanStatusMessage, StatusMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.serialization import dumps, loads

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "file_writer"
BIN = Path(sys.executable).parent
DEADLINE = 30.0
TERMINAL = ("closed", "aborted", "halted", "user_completed")

sys.path.insert(0, str(DATA))
from h5layout import describe  # noqa: E402
from service_proc import Proc  # noqa: E402

__all__ = ["describe"]


class Writer(Proc):
    """``bec-file-writer`` as a process, its output in ``tmp/fw.log``."""

    def __init__(self, url: str, tmp: Path, service_config: Path | None = None) -> None:
        args = [str(BIN / "bec-file-writer"), "--redis", url]
        if service_config is not None:
            args += ["--service-config", str(service_config)]
        super().__init__(args, tmp / "fw.log")


async def wait_running(
    conn: AsyncRedisConnector, name: str = "FileWriterManager", timeout: float = DEADLINE
) -> None:
    """Wait until ``name``'s heartbeat says RUNNING."""
    async with conn.subscribe(MessageEndpoints.service_status(name)) as sub:
        current = await conn.get(MessageEndpoints.service_status(name))
        while not (isinstance(current, StatusMessage) and current.status == BECStatus.RUNNING):
            current = (await sub.get(timeout=timeout)).value


async def wait_file(conn: AsyncRedisConnector, scan_id: str, timeout: float = DEADLINE) -> FileMessage:
    """The master FileMessage of ``scan_id`` once it says done."""
    ep = MessageEndpoints.public_file(scan_id, "master")
    async with conn.subscribe(ep) as sub:
        current = await conn.get(ep)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (isinstance(current, FileMessage) and current.done):
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no done FileMessage for scan {scan_id} within {timeout} s")
            current = (await sub.get(timeout=left)).value
        return current


def stock_inputs() -> dict[str, Any]:
    """The recorded stock scans (see tests/data/file_writer/generate_reference.py)."""
    return json.loads((DATA / "stock_inputs.json").read_text())


def stock_layouts() -> dict[str, Any]:
    """Structure of stock's files of those scans."""
    return json.loads((DATA / "stock_layout.json").read_text())


async def replay(
    conn: AsyncRedisConnector,
    base: Path,
    scan_id: str | None = None,
    on_open: Callable[[], Awaitable[None]] | None = None,
    streams: bool = True,
) -> None:
    """Publish the recorded stock messages (of one scan, or all) with file paths under ``base``.

    The device configurations as the recording started are SET first (the writer reads them at
    start-up and follows the changes recorded among the messages),
    then the device config and infos (from which the writer finds a scan's async streams) and
    the entries of the async streams, as stock's device server left them. ``on_open`` runs right
    after the scan's ``open`` status is published; ``streams=False`` leaves the async streams out
    (for ``on_open`` to add them while the scan runs: :func:`add_streams`).
    """
    inputs = stock_inputs()
    for device, raw in inputs["configuration"].items():
        msg = loads(base64.b64decode(raw))
        await conn.set_and_publish(MessageEndpoints.device_read_configuration(device), msg)
    await conn.redis.set(MessageEndpoints.device_config().endpoint, base64.b64decode(inputs["device_config"]))
    for device, raw in inputs["device_info"].items():
        await conn.redis.set(MessageEndpoints.device_info(device).endpoint, base64.b64decode(raw))
    if streams:
        for sid in inputs["streams"]:
            if scan_id is None or sid == scan_id:
                await add_streams(conn, sid)
    ended = False
    for topic, raw in inputs["messages"]:
        data = base64.b64decode(raw)
        msg = loads(data)
        if topic.startswith("info/devices/read_configuration/"):
            # a configuration change while the scans ran (the file holds the one at the scan's end)
            if ended:
                continue  # after this scan's end
            await conn.redis.set(topic, data)
            await conn.redis.publish(topic, data)
            continue
        if isinstance(msg, ScanStatusMessage):
            if scan_id is not None and msg.scan_id != scan_id:
                continue
            prefix = str(base / f"S{msg.scan_number:05d}")
            info = dict(msg.info, file_components=(prefix, "h5"))
            msg = msg.model_copy(update={"info": info})
            data = dumps(msg)
            await conn.redis.set(topic, data)
        elif scan_id is not None:
            items = msg if isinstance(msg, list) else [msg]
            if items and getattr(items[0], "scan_id", None) != scan_id:
                continue
        if topic.endswith("scan_baseline"):
            await conn.redis.set(topic, data)
        await conn.redis.publish(topic, data)
        if on_open is not None and isinstance(msg, ScanStatusMessage) and msg.status == "open":
            await on_open()
        if scan_id is not None and isinstance(msg, ScanStatusMessage) and msg.status in TERMINAL:
            ended = True  # its last points may still follow (stock's bundler can lag the status)


async def add_streams(conn: AsyncRedisConnector, scan_id: str) -> None:
    """XADD the recorded async stream entries of ``scan_id``."""
    for key, entries in stock_inputs()["streams"][scan_id].items():
        for fields in entries:
            await conn.redis.xadd(key, {k: base64.b64decode(v) for k, v in fields.items()})


#: attributes whose values are compared (others: only their presence and dtype)
COMPARED_ATTR_VALUES = ("NX_class", "signal", "description")
#: bec-core's own additions, documented in docs/decisions/0005-file-writer.md
BEC_CORE_ATTRS = ("writer_status",)


def normalized(layout: dict[str, Any]) -> dict[str, Any]:
    """A layout with run-dependent attribute values (times, versions) reduced to their dtype."""
    out = {}
    for path, entry in layout.items():
        entry = dict(entry)
        if "attrs" in entry:
            entry["attrs"] = {
                name: (attr if name in COMPARED_ATTR_VALUES else {"dtype": attr["dtype"]})
                for name, attr in entry["attrs"].items()
                if name not in BEC_CORE_ATTRS
            }
        out[path] = entry
    return out


def differences(ours: dict[str, Any], stock: dict[str, Any]) -> list[str]:
    """Readable differences between two normalized layouts."""
    lines = []
    for path in sorted(set(ours) | set(stock)):
        if path not in ours:
            lines.append(f"missing in ours: {path} {stock[path]}")
        elif path not in stock:
            lines.append(f"extra in ours:   {path} {ours[path]}")
        elif ours[path] != stock[path]:
            lines.append(f"differs:         {path}\n    ours  {ours[path]}\n    stock {stock[path]}")
    return lines
