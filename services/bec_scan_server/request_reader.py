"""The scan-request subscription, drained by a thread of its own.

Stock clients publish scan requests on ``personal/<user>/queue/queue_request``
(plain pub/sub). Redis disconnects a subscriber whose output buffer passes
``client-output-buffer-limit pubsub`` (32 MB hard by default), and every
request published meanwhile is gone. So the subscription is read by a thread
that does nothing but read: no decoding, no validation, no answer, no event
loop in between (a busy loop cannot starve it). It hands raw bytes to the
event loop in arrival order; the intake decodes and validates them there.

The thread speaks RESP on a plain socket (``recv_into`` one reused buffer)
rather than through redis-py: redis-py copies each 64 KiB chunk three times and
reached 20-70 of 200 1-MiB publications before Redis dropped it, the plain
socket read drains all 200 (see docs/decisions/0007-request-flood.md).

Memory stays bounded: a message above ``max_bytes`` is kept only as its size
and its first and last 64 KiB (enough to recover its RID for the refusal), and
once ``budget`` bytes wait unhandled, further messages are kept the same way
and refused as "busy". When Redis drops the subscription the thread
resubscribes at once and says so in the log.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: bytes kept of each end of a message that is not kept whole (the RID is looked for there)
KEEP = 64 * 1024
#: bytes read from the socket at a time
CHUNK = 1 << 20
#: seconds a blocked read waits before it looks at the stop flag
POLL = 0.2


class ReaderError(ConnectionError):
    """Redis closed the connection, refused a command, or sent what is not a subscription reply."""


@dataclass(frozen=True)
class RawRequest:
    """One publication as read: whole (``data``), or cut (``head``/``tail``) with the reason."""

    channel: str
    size: int
    data: bytes | None = None
    head: bytes = b""
    tail: bytes = b""
    #: ``"oversized"`` (above ``max_bytes``) or ``"busy"`` (the pending budget was full)
    cut: str | None = None


class RequestReader:
    """PSUBSCRIBEs one pattern from a thread and queues what arrives for the event loop."""

    def __init__(
        self,
        connection_kwargs: dict[str, Any],
        pattern: str,
        max_bytes: int,
        budget: int = 64 * 1024 * 1024,
    ) -> None:
        self.pattern = pattern
        self.max_bytes = max_bytes
        self.budget = budget
        #: times Redis dropped the subscription and it was resubscribed
        self.drops = 0
        self._kwargs = connection_kwargs
        self._items: collections.deque[RawRequest] = collections.deque()
        self._pending_bytes = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Event | None = None

    @classmethod
    def for_connector(cls, connector: Any, pattern: str, max_bytes: int) -> RequestReader:
        """A reader with the address and credentials of an :class:`AsyncRedisConnector`."""
        pool = connector.redis.connection_pool
        source = pool.connection_kwargs
        kwargs: dict[str, Any] = {
            key: source.get(key) for key in ("host", "port", "path", "username", "password", "db")
        }
        kwargs["tls"] = "SSL" in pool.connection_class.__name__
        kwargs["ca_certs"] = source.get("ssl_ca_certs")
        kwargs["connect_timeout"] = source.get("socket_connect_timeout") or 5.0
        kwargs["client_name"] = f"{source.get('client_name') or 'bec_core'}_requests"
        return cls(kwargs, pattern, max_bytes)

    # ------------------------------------------------------------------ lifecycle
    async def start(self, timeout: float = 10.0) -> None:
        """Start the thread; return once the pattern is subscribed (``TimeoutError`` if not in time)."""
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="request-reader", daemon=True)
        self._thread.start()
        if not await asyncio.to_thread(self._subscribed.wait, timeout):
            raise TimeoutError(f"could not subscribe {self.pattern} within {timeout:g} s")

    async def stop(self) -> None:
        """Stop the thread (it notices within its poll interval)."""
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)

    async def get(self) -> RawRequest:
        """The next request read, in arrival order."""
        assert self._ready is not None, "start() first"
        while True:
            with self._lock:
                if self._items:
                    item = self._items.popleft()
                    if item.data is not None:
                        self._pending_bytes -= item.size
                    return item
                self._ready.clear()
            await self._ready.wait()

    def pending(self) -> int:
        """Requests read and not yet taken."""
        return len(self._items)

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        delay = 0.0
        lost = False  # an established subscription was lost and is not back yet
        while not self._stop.is_set():
            wire: _Wire | None = None
            try:
                wire = _Wire.connect(self._kwargs, self._stop)
                wire.subscribe(self.pattern, self._kwargs)
                if lost:
                    log.warning("request subscription %s: resubscribed", self.pattern)
                self._subscribed.set()
                lost, delay = False, 0.0
                while not self._stop.is_set():
                    self._put(*wire.publication(self.max_bytes))
            except (ReaderError, OSError) as exc:
                if self._stop.is_set():
                    break
                if self._subscribed.is_set() and not lost:
                    lost = True
                    self.drops += 1
                    log.warning(
                        "request subscription %s: lost (%s); requests published until it is back are lost "
                        "(Redis went away, or dropped a subscriber more than client-output-buffer-limit "
                        "pubsub behind); resubscribing at once",
                        self.pattern,
                        exc,
                    )
                else:  # Redis is away (or not there yet): try again with back-off, quietly
                    log.debug("request subscription %s: cannot subscribe (%s)", self.pattern, exc)
                if delay:
                    self._stop.wait(delay)
                delay = min(max(delay * 2, 0.05), 2.0)
            finally:
                if wire is not None:
                    wire.close()

    def _put(self, channel: str, size: int, data: bytes | None, head: bytes, tail: bytes) -> None:
        with self._lock:
            if data is None:
                item = RawRequest(channel, size, head=head, tail=tail, cut="oversized")
            elif self._pending_bytes + size > self.budget:
                item = RawRequest(channel, size, head=data[:KEEP], tail=data[-KEEP:], cut="busy")
            else:
                item = RawRequest(channel, size, data=data)
                self._pending_bytes += size
            self._items.append(item)
            wake = len(self._items) == 1
        if wake and self._loop is not None and self._ready is not None:
            try:
                self._loop.call_soon_threadsafe(self._ready.set)
            except RuntimeError:  # the loop is closed: we are shutting down
                pass


class _Wire:
    """A RESP2 connection that only subscribes and reads publications, one copy per byte."""

    def __init__(self, sock: socket.socket, stop: threading.Event) -> None:
        self.sock = sock
        self.stop = stop
        self.buf = bytearray()
        self.pos = 0
        self.scratch = memoryview(bytearray(CHUNK))

    @classmethod
    def connect(cls, kw: dict[str, Any], stop: threading.Event) -> _Wire:
        """Open the socket (TCP, TLS or unix) with keep-alive and the poll timeout."""
        timeout = float(kw.get("connect_timeout") or 5.0)
        sock: socket.socket
        if kw.get("path"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(kw["path"])
        else:
            host = kw.get("host") or "127.0.0.1"
            sock = socket.create_connection((host, int(kw.get("port") or 6379)), timeout)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if kw.get("tls"):
                context = ssl.create_default_context(cafile=kw.get("ca_certs"))
                sock = context.wrap_socket(sock, server_hostname=host)
        sock.settimeout(POLL)
        return cls(sock, stop)

    def close(self) -> None:
        """Close the socket."""
        try:
            self.sock.close()
        except OSError:
            pass

    def command(self, *args: str) -> None:
        """Send one command (its reply is read by the caller)."""
        parts = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            raw = arg.encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
        self.sock.sendall(b"".join(parts))

    def subscribe(self, pattern: str, kw: dict[str, Any]) -> None:
        """AUTH, SELECT and CLIENT SETNAME if needed, then PSUBSCRIBE; wait for its confirmation."""
        if kw.get("password") is not None:
            user = kw.get("username")
            self.command("AUTH", *([user] if user else []), kw["password"])
            self._ok("AUTH")
        if kw.get("db"):
            self.command("SELECT", str(kw["db"]))
            self._ok("SELECT")
        self.command("CLIENT", "SETNAME", kw["client_name"])
        self._ok("CLIENT SETNAME")
        self.command("PSUBSCRIBE", pattern)
        while True:
            parts = self._frame(0)
            if parts and parts[0][1] == b"psubscribe":
                return

    def publication(self, max_bytes: int) -> tuple[str, int, bytes | None, bytes, bytes]:
        """The next ``pmessage``: channel, size, and the data whole (or None and its two ends)."""
        while True:
            parts = self._frame(max_bytes)
            if len(parts) == 4 and parts[0][1] == b"pmessage":
                size, data, head, tail = parts[3]
                channel = parts[2][1] or b""
                return channel.decode(errors="replace"), size, data, head, tail

    # ------------------------------------------------------------------ RESP parsing
    def _ok(self, what: str) -> None:
        line = self._line()
        if not line.startswith(b"+"):
            raise ReaderError(f"{what} refused: {line.decode(errors='replace')[:200]}")

    def _frame(self, max_bytes: int) -> list[tuple[int, bytes | None, bytes, bytes]]:
        """One array reply: each element as (size, whole or None, head, tail)."""
        line = self._line()
        if not line.startswith(b"*"):
            raise ReaderError(f"unexpected reply on the subscription: {line.decode(errors='replace')[:200]}")
        out = []
        for _ in range(int(line[1:])):
            item = self._line()
            if item.startswith(b"$"):
                out.append(self._bulk(int(item[1:]), max_bytes))
            else:  # an integer (the subscription count)
                out.append((len(item), item[1:], b"", b""))
        return out

    def _fill(self) -> None:
        """Read more bytes into ``buf`` (compacting it first)."""
        if self.pos:
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += self.scratch[: self._recv()]

    def _recv(self) -> int:
        while True:
            try:
                n = self.sock.recv_into(self.scratch)
            except TimeoutError:
                if self.stop.is_set():
                    raise ReaderError("stopped") from None
                continue
            if n == 0:
                raise ReaderError("connection closed by Redis")
            return n

    def _line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = bytes(self.buf[self.pos : end])
                self.pos = end + 2
                return line
            self._fill()

    def _bulk(self, size: int, max_bytes: int) -> tuple[int, bytes | None, bytes, bytes]:
        """A bulk string of ``size`` bytes: whole up to ``max_bytes`` (0: no limit), else its ends."""
        if size < 0:
            return (0, None, b"", b"")
        if max_bytes <= 0 or size <= max_bytes:
            while len(self.buf) - self.pos < size + 2:
                self._fill()
            data = bytes(self.buf[self.pos : self.pos + size])
            self.pos += size + 2
            return (size, data, b"", b"")
        # too large to keep: stream it through, keeping the first and last KEEP bytes
        have = min(len(self.buf) - self.pos, size)
        head = bytes(self.buf[self.pos : self.pos + min(have, KEEP)])
        tail = bytearray(self.buf[self.pos + have - min(have, KEEP) : self.pos + have])
        self.pos += have
        left = size - have
        while left > 0:
            n = self._recv()
            used = min(n, left)
            chunk = self.scratch[:used]
            if len(head) < KEEP:
                head += bytes(chunk[: KEEP - len(head)])
            tail += chunk[-KEEP:]
            del tail[:-KEEP]
            left -= used
            if used < n:  # the rest belongs to the next reply
                self.buf = bytearray(self.scratch[used:n])
                self.pos = 0
        while len(self.buf) - self.pos < 2:
            self._fill()
        self.pos += 2
        return (size, None, head, bytes(tail))
