"""``scan_info`` as devices see it: bec_lib's ScanStatusMessage of the current scan, converted lazily."""

from __future__ import annotations

import threading

from bec_device_server.facade import ScanInfo
from bec_lib import messages as bec_messages

from bec_core.messages import ScanStatusMessage


def status(state: str, scan_id: str, number: int) -> ScanStatusMessage:
    return ScanStatusMessage(scan_id=scan_id, status=state, info={"scan_number": number})


def test_msg_is_bec_libs_message_of_the_newest_status() -> None:
    info = ScanInfo()
    assert info.msg is None and info.scan_id is None
    info.update(status("open", "s1", 1))
    assert info.scan_id == "s1"
    first = info.msg
    assert isinstance(first, bec_messages.ScanStatusMessage)
    assert (first.scan_id, first.status, first.info["scan_number"]) == ("s1", "open", 1)
    assert info.msg is first  # converted once per status, not on every read
    info.update(status("open", "s2", 2))
    info.update(status("closed", "s2", 2))  # only the newest counts
    second = info.msg
    assert (second.scan_id, second.status) == ("s2", "closed")
    assert info.scan_id == "s2"


def test_assigning_msg_replaces_a_pending_status() -> None:
    info = ScanInfo()
    info.update(status("open", "s1", 1))
    info.msg = None
    assert info.msg is None and info.scan_id is None


def test_concurrent_readers_see_the_same_converted_message() -> None:
    info = ScanInfo()
    info.update(status("open", "s1", 1))
    seen: list[object] = []
    barrier = threading.Barrier(8)

    def read() -> None:
        barrier.wait()
        seen.append(info.msg)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(m) for m in seen}) == 1 and getattr(seen[0], "scan_id", None) == "s1"
