"""What a stock bec_lib client receives, kept for tests that wait on it with a deadline.

Stock bec_lib runs its callbacks in its own threads; :meth:`Follower.cb` files each
message (or each message of a bundle, or a stream entry's ``data``) under a name,
and :meth:`Follower.wait_for` waits on a condition over them. :func:`stock_modules` imports
stock bec_lib's modules (or skips, and fails on CI); :func:`stock_request` builds a scan request
as a stock client sends it.
"""

from __future__ import annotations

import importlib
import os
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

DEADLINE = 30.0


class Follower:
    """Collects what stock bec_lib receives (its callbacks run in bec_lib's threads)."""

    def __init__(self) -> None:
        self.msgs: dict[str, list[Any]] = defaultdict(list)
        self.cond = threading.Condition()

    def cb(self, msg: Any, name: str) -> None:
        value = msg.value if hasattr(msg, "value") else msg
        if isinstance(value, dict) and "data" in value:  # a stream entry
            value = value["data"]
        values = value if isinstance(value, list) else [value]
        with self.cond:
            self.msgs[name].extend(values)
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
        with self.cond:
            result = self.cond.wait_for(predicate, timeout)
        assert result, f"timed out after {timeout} s waiting for {what}"
        return result

    def statuses(self, scan_id: str) -> list[str]:
        return [m.status for m in self.msgs["status"] if m.scan_id == scan_id]

    def points(self, scan_id: str) -> list[int]:
        return [m.point_id for m in self.msgs["segment"] if m.scan_id == scan_id]


def stock_modules(*names: str) -> list[ModuleType]:
    """``bec_lib.<name>`` for each name; skip the test without stock bec_lib (fail on CI)."""
    try:
        return [importlib.import_module(f"bec_lib.{name}") for name in names]
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"stock bec_lib is required on CI: {exc}")
        pytest.skip(f"stock bec_lib not importable: {exc}")


def stock_request(messages: Any, scan_type: str, args: Any, **kwargs: Any) -> Any:
    """A ScanQueueMessage (stock bec_lib's ``messages``) as a stock client sends it; RID in its metadata."""
    kwargs.setdefault("system_config", {"file_suffix": None, "file_directory": None})
    return messages.ScanQueueMessage(
        scan_type=scan_type,
        parameter={"args": args, "kwargs": kwargs},
        queue="primary",
        metadata={
            "file_suffix": None,
            "file_directory": None,
            "user_metadata": {},
            "RID": str(uuid.uuid4()),
            "client_info": {
                "acl_user": "default",
                "username": os.environ.get("USER", "tester"),
                "hostname": "here",
            },
        },
    )
