"""Device RPC (reference 6.4): call a public method, or read an attribute, of a device.

``parameter = {"device", "func", "rpc_id", "args", "kwargs"}``; ``func`` is a dotted
path below the device (``velocity.get``, ``readback.get``, ``read``, ``limits``).
Every path segment must be public (no leading ``_``) or listed in the
``USER_ACCESS`` of the object it is looked up on, and every intermediate
object must be an ophyd object or listed in its parent's ``USER_ACCESS``;
anything else is refused. That is what a stock client can reach: stock's
device info exposes ophyd components plus the ``USER_ACCESS`` names (private
ones included, e.g. ophyd_devices' ``DummyController._func_with_args``), and
stock's client builds its RPC paths only from that info.
``kwargs={"_set_property": True}`` assigns ``args[0]`` to a property that has a
setter. The outcome is written to
``info/devices/rpc/<rpc_id>`` as a DeviceRPCMessage (EX 1800). A Status result is
returned as ``{"type": "status", ...}``; its completion is written to
``info/devices/req_status/<RID>``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from bec_core.endpoints import MessageEndpoints
from bec_core.errors import EncodeError
from bec_core.messages import DeviceMessage, DeviceReqStatusMessage, DeviceRPCMessage, ErrorInfo
from bec_core.serialization import dumps
from bec_device_server.bridge import call, is_status, status_future
from bec_device_server.errors import InstructionError, RPCError
from bec_device_server.jobs import Job
from bec_device_server.rpc_cache import cache_object, read_redirect, refresh, refreshes_cache

if TYPE_CHECKING:
    from bec_device_server.server import DeviceServer

log = logging.getLogger(__name__)

_WRITE_METHODS = frozenset({"set", "put", "move", "set_limits"})


def _user_access(obj: Any) -> tuple[str, ...]:
    """The names ``obj`` publishes to clients (its ``USER_ACCESS`` list), empty if none."""
    names = getattr(obj, "USER_ACCESS", None)
    if isinstance(names, (list, tuple, set, frozenset)):
        return tuple(n for n in names if isinstance(n, str))
    return ()


def resolve_path(root: Any, device: str, parts: list[str]) -> tuple[Any, Any, str]:
    """(parent, value, last name) for a dotted path below ``root``; raises RPCError if refused."""
    from ophyd.ophydobj import OphydObject

    if not parts:
        raise RPCError(f"{device}: rpc needs a 'func' to call")
    parent, current = None, root
    for i, part in enumerate(parts):
        path = ".".join([device, *parts[: i + 1]])
        if not part or (part.startswith("_") and part not in _user_access(current)):
            owner = ".".join([device, *parts[:i]])
            raise RPCError(f"{path}: refused: {part!r} is private (not in the USER_ACCESS of {owner})")
        allowed = isinstance(current, OphydObject) or (
            parent is not None and parts[i - 1] in (getattr(parent, "USER_ACCESS", None) or ())
        )
        if not allowed:
            raise RPCError(f"{path}: refused: {'.'.join(parts[:i])!r} is not a device component")
        try:
            nxt = getattr(current, part)
        except AttributeError:
            raise RPCError(
                f"{path}: refused: {device} has no attribute {'.'.join(parts[: i + 1])!r}"
            ) from None
        parent, current = current, nxt
    return parent, current, parts[-1]


def serialise(value: Any, rid: str | None) -> Any:
    """An RPC result as it goes on the wire (statuses and namedtuples described as dicts)."""
    if is_status(value):
        return {
            "type": "status",
            "RID": rid,
            "success": bool(value.success),
            "timeout": getattr(value, "timeout", None),
            "done": bool(value.done),
            "settle_time": getattr(value, "settle_time", 0),
        }
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"type": "namedtuple", "fields": list(value._fields), "values": dict(value._asdict())}
    return value


async def run_rpc(server: DeviceServer, job: Job) -> Any:
    """Execute an ``rpc`` instruction; the result is the (serialised) return value."""
    params = job.instr.parameter
    rpc_id = params.get("rpc_id")
    device = params.get("device") or (job.instr.device if isinstance(job.instr.device, str) else None)
    try:
        if not isinstance(rpc_id, str) or not rpc_id:
            raise InstructionError("rpc: parameter 'rpc_id' must be a non-empty string")
        if not isinstance(device, str) or not device:
            raise InstructionError("rpc: parameter 'device' must be a device name")
        value = await _execute(server, job, device, rpc_id, params)
    except Exception as exc:
        if isinstance(rpc_id, str) and rpc_id:
            info = ErrorInfo(
                error_message=str(exc),
                compact_error_message=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                exception_type=type(exc).__name__,
                device=device if isinstance(device, str) else None,
            )
            msg = DeviceRPCMessage(
                device=str(device),
                return_val=None,
                out=info.model_dump(),
                success=False,
                metadata=job.metadata,
            )
            await server.connector.set(MessageEndpoints.device_rpc(rpc_id), msg, expire=1800, pipe=job.pipe)
        raise
    msg = DeviceRPCMessage(device=device, return_val=value, out="", success=True, metadata=job.metadata)
    await server.connector.set(MessageEndpoints.device_rpc(rpc_id), msg, expire=1800, pipe=job.pipe)
    return value


async def _execute(server: DeviceServer, job: Job, device: str, rpc_id: str, params: dict[str, Any]) -> Any:
    func = params.get("func")
    args = params.get("args") or []
    kwargs = dict(params.get("kwargs") or {})
    if not isinstance(func, str):
        raise InstructionError(f"rpc {device}: parameter 'func' must be a string, not {func!r}")
    if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict):
        raise InstructionError(f"rpc {device}.{func}: 'args' must be a list and 'kwargs' a map")
    root_name, *sub = device.split(".")
    entry = server.resolve([root_name])[root_name]
    parts = [*sub, *func.split(".")]
    parent, target, last = resolve_path(entry.obj, root_name, parts)
    path = ".".join([root_name, *parts])
    set_property = bool(kwargs.pop("_set_property", False))
    if entry.config.readOnly and (set_property or last in _WRITE_METHODS):
        raise RPCError(f"{path}: refused: Setting the device {root_name} is currently disabled.")
    if set_property:
        prop = getattr(type(parent), last, None)
        settable = isinstance(prop, property) and prop.fset is not None
        # a plain value the owner publishes in USER_ACCESS (DummyController.some_var), as stock
        listed = not isinstance(prop, property) and not callable(target) and last in _user_access(parent)
        if not (settable or listed) or len(args) != 1:
            raise RPCError(f"{path}: refused: not a settable property (or not exactly one value given)")
        await call(
            server.loop,
            server.executor,
            setattr,
            parent,
            last,
            args[0],
            device=root_name,
            action=f"rpc {path}",
            timeout=job.timeout,
        )
        return None
    redirect = read_redirect(entry.obj, parent, parts) if not sub else None
    if redirect is not None and hasattr(entry.obj, redirect):
        target, args, kwargs = getattr(entry.obj, redirect), [], {}
    else:
        redirect = "read" if not sub and func == "read" else None
        redirect = "read_configuration" if not sub and func == "read_configuration" else redirect
    if callable(target):
        result = await call(
            server.loop,
            server.executor,
            lambda: target(*args, **kwargs),
            device=root_name,
            action=f"rpc {path}",
            timeout=job.timeout,
        )
    elif args or kwargs:
        raise RPCError(f"{path}: is not callable, but arguments were given")
    else:
        result = target
    if redirect == "read" and isinstance(result, dict):
        job.readings.add(root_name, dict(result), job.metadata)
    elif redirect == "read_configuration" and isinstance(result, dict):
        await server.connector.set_and_publish(
            MessageEndpoints.device_read_configuration(root_name),
            DeviceMessage(signals=dict(result), metadata=job.metadata),
            pipe=job.pipe,
        )
    rid = job.metadata.get("RID") or rpc_id
    refresh_obj = cache_object(entry.obj, parent, parts) if refreshes_cache(parts) else None
    if is_status(result):
        after = None if refresh_obj is None else (entry, refresh_obj)
        server.spawn(
            _report_status(server, result, root_name, rid, job.metadata, after), f"rpc-status:{rpc_id}"
        )
    elif refresh_obj is not None:
        await refresh(server, entry, refresh_obj, job.metadata)
    value = serialise(result, rid)
    try:
        dumps(value)
    except EncodeError as exc:
        log.warning("rpc %s: result cannot be sent (%s); returning None", path, exc)
        return None
    return value


async def _report_status(
    server: DeviceServer,
    status: Any,
    device: str,
    rid: str,
    metadata: dict,
    refresh_after: tuple[Any, Any] | None = None,
) -> None:
    """When an RPC's status finishes, refresh the cache (``refresh_after`` = (entry, object)) if
    it succeeded, then XADD its outcome to ``info/devices/req_status/<RID>``."""
    try:
        await status_future(status, server.loop)
        success = True
    except Exception:
        success = False
    except asyncio.CancelledError:
        raise
    if success and refresh_after is not None:
        await refresh(server, refresh_after[0], refresh_after[1], metadata)
    msg = DeviceReqStatusMessage(
        device=device, success=success, request_id=rid, metadata={**metadata, "action": "rpc"}
    )
    await server.connector.xadd(MessageEndpoints.device_req_status(rid), {"data": msg}, expire=3600)


__all__ = ["resolve_path", "run_rpc", "serialise"]
