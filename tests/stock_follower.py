"""What a stock bec_lib client receives, kept for tests that wait on it with a deadline.

Stock bec_lib runs its callbacks in its own threads; :meth:`Follower.cb` files each
message (or each message of a bundle, or a stream entry's ``data``) under a name,
and :meth:`Follower.wait_for` waits on a condition over them.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

DEADLINE = 30.0


class Follower:
    """Collects what stock bec_lib receives (its callbacks run in bec_lib's threads)."""

    def __init__(self) -> None:
        self.msgs: dict[str, list[Any]] = defaultdict(list)
        self.cond = threading.Condition()

    def cb(self, msg: Any, name: str) -> None:
        value = msg.value if hasattr(msg, "value") else msg.get("data", msg)
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
