"""Which config the device server starts with, and whether what it built is enough to run.

* With ``--config`` the file's devices; the config Redis held before is kept in the
  history if the new one differs (:mod:`.config_store`).
* Without it the stored config (the last applied one, runtime changes included);
  on a Redis that holds none, the ``--initial-config`` file if one was given, else
  nothing (the server runs and waits for a config request).
* If the config names enabled devices and every one of them failed to build, the
  start is refused (:class:`ConfigError`, exit status 2) with one line naming the
  devices and why, unless ``start_without_devices``; with some failed, one
  warning names them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.errors import ConfigError
from bec_core.redis_connector import AsyncRedisConnector
from bec_device_server.config import DeviceConfig
from bec_device_server.config_store import read_stored
from bec_device_server.devices import describe_exception

log = logging.getLogger(__name__)


@dataclass
class StartConfig:
    """The devices to build at start, where they came from, and what Redis held before."""

    devices: dict[str, DeviceConfig]
    invalid: dict[str, str] = field(default_factory=dict)
    source: str = ""
    stored: list[dict[str, Any]] | None = None  # the device list Redis held (None: no key)


async def choose(
    connector: AsyncRedisConnector,
    explicit: dict[str, DeviceConfig] | None,
    invalid: dict[str, str],
    initial: tuple[dict[str, DeviceConfig], dict[str, str]] | None,
    source: str,
) -> StartConfig:
    """The start config: ``explicit`` (``--config``), else the stored one, else ``initial``."""
    msg = await connector.get(MessageEndpoints.device_config())
    stored = list(msg.resource) if msg is not None and isinstance(msg.resource, list) else None
    if explicit is not None:
        return StartConfig(explicit, dict(invalid), source or "the given config", stored)
    restored = await read_stored(connector)
    if restored is not None:
        devices, problems = restored
        for text in problems.values():
            log.error("%s", text)
        log.info("restoring the stored device config (%d devices, info/devices/config)", len(devices))
        return StartConfig(devices, problems, "the config stored in Redis (info/devices/config)", stored)
    if initial is not None:
        log.info("Redis holds no device config: loading %s", source)
        return StartConfig(initial[0], dict(initial[1]), source, None)
    log.warning(
        "no device config: Redis holds none and none was given (--config FILE); "
        "waiting for a config request (e.g. bec.config.update_session_with_file)"
    )
    return StartConfig({}, {}, "no config", None)


def _reasons(failed: dict[str, str]) -> str:
    """``a, b: reason; c: other reason`` (devices grouped by their one-line reason)."""
    by_reason: dict[str, list[str]] = {}
    for name, reason in failed.items():
        by_reason.setdefault(reason, []).append(name)
    return "; ".join(f"{', '.join(names)}: {reason}" for reason, names in by_reason.items())


def failure_texts(failures: dict[str, BaseException], invalid: dict[str, str]) -> dict[str, str]:
    """One line per failed device: its build error, or the first line of its validation error."""
    # without the device's own name inside (``mot1: ...``), so that equal failures group
    out = {name: describe_exception(exc)[1].replace(f"{name}: ", "") for name, exc in failures.items()}
    for name, text in invalid.items():
        line = text.splitlines()[0] if text else "invalid entry"
        out[name] = line.split(": ", 2)[-1] if line.count(": ") >= 2 else line
    return out


def check_usable(
    start: StartConfig,
    failures: dict[str, BaseException],
    keep_going: bool,
) -> None:
    """Refuse a start where every enabled device failed; warn naming the failed ones otherwise."""
    failed = failure_texts(failures, start.invalid)
    if not failed:
        return
    enabled = [c for c in start.devices.values() if c.enabled]
    usable = len(enabled) - len([n for n in failures if n in start.devices])
    if usable > 0:
        log.warning(
            "%d of %d devices failed to build and are disabled: %s",
            len(failed),
            len(enabled) + len(start.invalid),
            _reasons(failed),
        )
        return
    text = (
        f"no usable device: every device of {start.source} failed to build: {_reasons(failed)}. "
        "Fix the config, or start anyway with --start-without-devices "
        "(setting device_server.start_without_devices)"
    )
    if not keep_going:
        raise ConfigError(text)
    log.warning("%s; starting anyway (start_without_devices)", text.split(". Fix", 1)[0])


def changed(stored: list[dict[str, Any]] | None, now: Iterable[dict[str, Any]]) -> bool:
    """True if the stored device list differs from the one about to be published."""
    return stored is not None and list(stored) != list(now)


__all__ = ["StartConfig", "changed", "check_usable", "choose", "failure_texts"]
