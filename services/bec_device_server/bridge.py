"""Between ophyd's threads and the event loop: run calls in the pool, await Status objects.

:func:`status_future` turns an ophyd Status into an asyncio future through
``status.add_callback`` → ``loop.call_soon_threadsafe`` (no polling); a status that finishes on the loop's own
thread (an inline call of a simulated device) resolves without that hop, and
:func:`wait_status` returns at once for a status that is already done.
:func:`call` runs a blocking ophyd call in the bounded pool with a deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from bec_device_server.errors import DeviceAbortError, DeviceActionError


def is_status(value: Any) -> bool:
    """True for ophyd Status objects (anything with ``add_callback`` and ``done``)."""
    return hasattr(value, "add_callback") and hasattr(value, "done") and hasattr(value, "success")


def on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    """True when called on the thread that runs ``loop`` (while it runs)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def status_future(status: Any, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    """A future that completes when ``status`` finishes (with its exception if it failed)."""
    fut: asyncio.Future[None] = loop.create_future()
    # the waiter may be gone (its instruction was cancelled by an abort) when the status fails:
    # the failure is then nobody's business, not "Future exception was never retrieved"
    fut.add_done_callback(lambda f: f.cancelled() or f.exception())

    def resolve(st: Any) -> None:
        if fut.done():
            return
        exc = _status_exception(st)
        if exc is None:
            fut.set_result(None)
        else:
            fut.set_exception(exc)

    def on_done(st: Any) -> None:  # ophyd thread (or this one, if already done)
        if on_loop_thread(loop):
            resolve(st)
        else:
            loop.call_soon_threadsafe(resolve, st)

    status.add_callback(on_done)
    return fut


def _status_exception(status: Any) -> BaseException | None:
    try:
        exc = status.exception(timeout=0)
    except Exception as err:  # StatusBase.exception raises WaitTimeoutError if not done
        return err
    if exc is None and not getattr(status, "success", True):
        return RuntimeError(f"status {status!r} finished unsuccessfully")
    return exc


async def call(
    loop: asyncio.AbstractEventLoop,
    executor: Executor,
    func: Callable[..., Any],
    *args: Any,
    device: str,
    action: str,
    timeout: float,
) -> Any:
    """Run ``func(*args)`` in the pool; a missed deadline is a :class:`DeviceActionError`."""
    fut = loop.run_in_executor(executor, guarded, func, *args)
    return await _within(fut, timeout, device, action)


def guarded(func: Callable[..., Any], *args: Any) -> Any:
    """``func(*args)`` in a worker thread, with a ``SystemExit`` or ``KeyboardInterrupt`` that device
    code raises there turned into a :class:`DeviceAbortError`: it fails the call, not the server
    (an awaited future holding one would end the event loop)."""
    try:
        return func(*args)
    except Exception:
        raise
    except BaseException as exc:
        raise DeviceAbortError(f"device code raised {type(exc).__name__}: {exc}") from exc


async def _within(
    fut: asyncio.Future[Any], timeout: float, device: str, action: str, total: float | None = None
) -> Any:
    # asyncio.wait, not wait_for: a TimeoutError raised *by the device* (ophyd's
    # StatusTimeoutError) must stay distinguishable from our own deadline.
    done, _ = await asyncio.wait({fut}, timeout=timeout)
    if not done:
        fut.cancel()
        raise DeviceActionError(
            f"{device}: {action} did not finish within {total or timeout:g} s", device, "TimeoutError"
        )
    return fut.result()


async def wait_status(
    status: Any,
    loop: asyncio.AbstractEventLoop,
    *,
    device: str,
    action: str,
    timeout: float,
    total: float | None = None,
) -> None:
    """Await an ophyd Status (or nothing, for a non-status result) within ``timeout`` seconds.

    ``total`` is the action's whole deadline, named in the error when ``timeout`` is what is left of it.
    """
    if not is_status(status):
        if isinstance(status, (list, tuple)):
            statuses = [s for s in status if is_status(s)]
            await asyncio.gather(
                *(
                    wait_status(s, loop, device=device, action=action, timeout=timeout, total=total)
                    for s in statuses
                )
            )
        return
    if status.done is True:  # finished already (an instant move): no future, no timer
        exc = _status_exception(status)
        if exc is not None:
            raise exc
        return
    await _within(status_future(status, loop), timeout, device, action, total)


__all__ = ["call", "guarded", "is_status", "on_loop_thread", "status_future", "wait_status"]


async def run_action(
    loop: asyncio.AbstractEventLoop,
    executor: Executor,
    func: Callable[..., Any],
    *args: Any,
    device: str,
    action: str,
    timeout: float,
    inline: bool = False,
) -> None:
    """Run an ophyd action and wait for the Status it returns, all within ``timeout`` seconds.

    ``inline`` calls ``func`` on the loop (our own simulated devices return at
    once); otherwise it runs in the pool. A missed deadline is a
    :class:`DeviceActionError` naming device and action.
    """
    started = loop.time()
    if inline:
        result = guarded(func, *args)
    else:
        result = await call(loop, executor, func, *args, device=device, action=action, timeout=timeout)
    remaining = max(0.0, timeout - (loop.time() - started))
    await wait_status(result, loop, device=device, action=action, timeout=remaining, total=timeout)
