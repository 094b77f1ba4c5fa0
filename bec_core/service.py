"""Service base: lifecycle, heartbeat, signals, logs; run under uvloop.

A service subclass overrides :meth:`Service.setup` (connect, subscribe),
:meth:`Service.main` (its work loops; the default waits for the stop request)
and :meth:`Service.shutdown` (drain: end scans, unstage devices). The first
SIGTERM or SIGINT asks for a graceful stop within ``timeouts.shutdown``
seconds; a second one forces the exit. Exit code 0 is a clean stop, 1 a crash,
2 a start-up failure (Redis unreachable, credentials refused, bad config).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from redis.exceptions import NoPermissionError

import bec_core
from bec_core.config import ServiceSettings, add_common_arguments, settings_from_args
from bec_core.endpoints import MessageEndpoints
from bec_core.errors import BECError, ConfigError, ConnectorError
from bec_core.logs import RedisLogHandler, setup_logging
from bec_core.messages import BECStatus, StatusMessage
from bec_core.redis_connector import AsyncRedisConnector

log = logging.getLogger(__name__)


class Service:
    """Base of every bec-core service process."""

    #: heartbeat name(s) published under ``user/services/status/<name>``
    name: ClassVar[str] = "Service"
    extra_heartbeats: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.connector = AsyncRedisConnector(
            settings.redis.url,
            username=settings.redis.username,
            password=settings.redis.password,
            name=self.name,
            outage_timeout=settings.redis.outage_timeout,
        )
        self.status = BECStatus.IDLE
        self.started_at = time.time()
        self.stop_reason: str | None = None
        self._stop = asyncio.Event()
        # Set when run() ends: the background loops leave on it. They are not only cancelled,
        # because redis-py's asyncio Pipeline.execute can swallow a cancellation.
        self._closing = asyncio.Event()
        self._signals = 0
        self._log_handler = RedisLogHandler(self.name)

    # ------------------------------------------------------------------ overridables
    async def setup(self) -> None:
        """Connect resources and subscribe (runs before the status turns RUNNING)."""

    async def main(self) -> None:
        """The service's work; the default waits until a stop is requested."""
        await self._stop.wait()

    async def shutdown(self) -> None:
        """Drain gracefully (runs within the shutdown deadline)."""

    def heartbeat_info(self) -> dict[str, Any]:
        """The ``info`` of the heartbeat StatusMessage."""
        return {
            "user": getpass.getuser(),
            "hostname": socket.gethostname(),
            "timestamp": time.time(),
            "versions": {"bec_core": bec_core.__version__},
            "version": bec_core.__version__,
            "pid": os.getpid(),
            "uptime": round(time.time() - self.started_at, 3),
        }

    # ------------------------------------------------------------------ lifecycle
    def request_stop(self, reason: str = "shutdown") -> None:
        """Ask the service to stop gracefully (idempotent)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """True once a stop was requested."""
        return self._stop.is_set()

    async def publish_status(self, status: BECStatus | None = None, expire: float | None = None) -> None:
        """Publish the heartbeat(s) now."""
        if status is not None:
            self.status = status
        info = self.heartbeat_info()
        pipe = self.connector.pipeline()
        for name in (self.name, *self.extra_heartbeats):
            await self.connector.set_and_publish(
                MessageEndpoints.service_status(name),
                StatusMessage(name=name, status=self.status, info=info),
                expire=expire or self.settings.timeouts.heartbeat_expiry,
                pipe=pipe,
            )
        await self.connector.execute_pipeline(pipe)

    async def _heartbeat_loop(self) -> None:
        while not self._closing.is_set():
            try:
                await self.publish_status()
            except Exception as exc:  # Redis away: the key expires, we retry next beat
                log.debug("heartbeat failed: %s", exc)
            try:
                await asyncio.wait_for(self._closing.wait(), self.settings.timeouts.heartbeat_interval)
            except TimeoutError:
                pass

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        if self._signals == 1:  # a normal stop (``bec-server stop``): INFO, not a warning
            log.info(
                "%s received %s: stopping gracefully (send it again to force)",
                self.name,
                signal.Signals(signum).name,
            )
            self.request_stop("shutdown")
        else:
            log.error("%s: second signal, forcing exit", self.name)
            os._exit(1)

    async def run(self) -> int:
        """Run until stopped; return the process exit code."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            await self.connector.connect()
        except ConnectorError as exc:
            log.error("%s cannot start: %s", self.name, exc)
            await self.connector.close()
            return 2
        logging.getLogger().addHandler(self._log_handler)
        code = 0
        background: list[asyncio.Task[None]] = []
        try:
            self.status = BECStatus.BUSY
            background.append(
                asyncio.create_task(self._log_handler.run(self.connector, self._closing), name="log-writer")
            )
            await self.publish_status()
            await self.setup()
            background.append(asyncio.create_task(self._heartbeat_loop(), name="heartbeat"))
            self.status = BECStatus.RUNNING
            await self.publish_status()
            log.info("%s running (pid %d, redis %s)", self.name, os.getpid(), self.connector.url)
            main = asyncio.create_task(self.main(), name=f"{self.name}-main")
            stop = asyncio.create_task(self._stop.wait(), name="stop-request")
            done, _ = await asyncio.wait({main, stop}, return_when=asyncio.FIRST_COMPLETED)
            if main in done and main.exception() is not None:
                raise main.exception()  # type: ignore[misc]
            stop.cancel()
            await self._graceful_stop(main)
        except (ConnectorError, ConfigError) as exc:
            log.error("%s stopped: %s", self.name, exc)
            code = 2
        except NoPermissionError as exc:  # the ACL user lacks a command the service needs
            user = self.settings.redis.username or "default"
            log.error("%s stopped: Redis user %r may not run a command it needs: %s", self.name, user, exc)
            code = 2
        except BECError as exc:
            log.error("%s failed: %s", self.name, exc)
            code = 1
        except Exception:
            log.exception("%s crashed", self.name)
            code = 1
        finally:
            self._closing.set()
            self._log_handler.wake()
            for task in background:
                task.cancel()
            _, stuck = await asyncio.wait(background, timeout=2.0) if background else ((), ())
            for task in stuck:
                log.warning("%s: background task %s did not stop", self.name, task.get_name())
            try:
                await asyncio.wait_for(
                    self.publish_status(
                        BECStatus.IDLE if code == 0 else BECStatus.ERROR,
                        expire=self.settings.timeouts.heartbeat_expiry,
                    ),
                    2.0,
                )
            except Exception:
                pass
            logging.getLogger().removeHandler(self._log_handler)
            await self.connector.close()
        return code

    async def _graceful_stop(self, main: asyncio.Task[None]) -> None:
        deadline = self.settings.timeouts.shutdown
        log.info("%s stopping (%s)", self.name, self.stop_reason)
        try:
            await asyncio.wait_for(self.shutdown(), deadline)
        except TimeoutError:
            log.error("%s: graceful shutdown took longer than %.1f s; cancelling", self.name, deadline)
        main.cancel()
        await asyncio.gather(main, return_exceptions=True)


def run_service(
    factory: Callable[[ServiceSettings, argparse.Namespace], Service],
    description: str,
    argv: Sequence[str] | None = None,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """Parse flags, load settings, run the service under uvloop; return the exit code."""
    parser = argparse.ArgumentParser(description=description)
    add_common_arguments(parser)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, description.split(":")[0])
    try:
        service = factory(settings, args)
    except (ConfigError, BECError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        import uvloop

        return uvloop.run(service.run())
    except ImportError:  # pragma: no cover
        return asyncio.run(service.run())
