"""The queue model: FIFO order, reordering, modifications' targets, status export."""

from __future__ import annotations

import pytest
from bec_scan_server.queue import QueueError, QueueItem, ScanQueue
from bec_scan_server.scans import SCANS
from bec_scan_server.validation import build

from bec_core.messages import ScanQueueLock, ScanQueueMessage


def item(scan_type="line_scan", rid="r", **kwargs):
    parameter = {
        "line_scan": {"args": {"samx": [0, 1]}, "kwargs": {"steps": 3, "relative": False}},
        "mv": {"args": {"samx": [1]}, "kwargs": {"relative": False}},
    }[scan_type]
    request = ScanQueueMessage(scan_type=scan_type, parameter=parameter, metadata={"RID": rid})
    return QueueItem(request=request, scan=build(SCANS[scan_type], parameter), **kwargs)


def test_fifo_and_take():
    q = ScanQueue("primary")
    a, b = item(rid="a"), item(rid="b")
    q.append(a)
    q.append(b)
    assert q.next_ready() is a
    q.take(a)
    assert q.active is a and a.status == "RUNNING"
    assert q.next_ready() is None  # one at a time
    q.active = None
    assert q.next_ready() is b


def test_pause_and_locks_hold_the_queue():
    q = ScanQueue("primary")
    scan, move = item(rid="a"), item("mv", rid="m")
    q.append(scan)
    q.paused = True
    assert q.next_ready() is None and q.status == "PAUSED"
    q.paused = False
    q.locks["x"] = ScanQueueLock(reason="beam down", identifier="x")
    assert q.status == "LOCKED" and q.next_ready() is None
    q.pending = [move]
    assert q.next_ready() is move  # device instructions may pass a lock that allows them


def test_move_orders():
    q = ScanQueue("primary")
    items = [item(rid=str(i)) for i in range(4)]
    for it in items:
        q.append(it)
    q.move(items[3].scan_id, "move_top")
    assert [i.rid for i in q.pending] == ["3", "0", "1", "2"]
    q.move(items[3].scan_id, "move_down")
    assert [i.rid for i in q.pending] == ["0", "3", "1", "2"]
    q.move(items[0].scan_id, "move_bottom")
    assert [i.rid for i in q.pending] == ["3", "1", "2", "0"]
    q.move(items[0].scan_id, "move_to", 1)
    assert [i.rid for i in q.pending] == ["3", "0", "1", "2"]
    with pytest.raises(QueueError, match="no pending scan"):
        q.move("nope", "move_up")
    with pytest.raises(QueueError, match="target_position"):
        q.move(items[0].scan_id, "move_to")


def test_find():
    q = ScanQueue("primary")
    a, b = item(rid="a"), item(rid="b")
    q.append(a)
    q.append(b)
    q.take(a)
    assert q.find() is a
    assert q.find(b.scan_id) is b
    assert q.find([b.scan_id]) is b
    assert q.find(None, "b") is b
    assert q.find("missing") is None


def test_export_predicts_scan_numbers_and_keeps_request():
    q = ScanQueue("primary")
    a, m, b = item(rid="a"), item("mv", rid="m"), item(rid="b")
    for it in (a, m, b):
        q.append(it)
    q.take(a)
    a.scan_number = 8
    status = q.export(last_scan_number=8)
    assert [e.scan_number for e in status.info] == [[8], [None], [9]]
    assert [e.status for e in status.info] == ["RUNNING", "PENDING", "PENDING"]
    entry = status.info[0]
    assert entry.is_scan == [True] and entry.scan_id == [a.scan_id]
    assert entry.active_request_block is not None
    block = entry.request_blocks[0]
    assert block.RID == "a" and block.msg.scan_type == "line_scan"
    assert block.report_instructions == [{"scan_progress": {"points": 3, "show_table": True}}]
    assert status.info[1].scan_id == [None] and status.info[1].is_scan == [False]
