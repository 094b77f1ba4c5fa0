"""``bec-scihub`` as a process: its heartbeat, service requests, logbook delivery, notifications.

The client side is stock bec_lib 4.3.2 wherever a stock client would be the one talking.
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from scihub_harness import ExpiryWatch, SciHubProcess, read_records, wait_for

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import BECStatus, VariableMessage
from bec_core.serialization import dumps, loads

pytestmark = pytest.mark.system
bec_lib = pytest.importorskip("bec_lib")

from bec_lib import messages as bec_messages  # noqa: E402
from bec_lib.alarm_handler import Alarms  # noqa: E402
from bec_lib.endpoints import MessageEndpoints as BecEndpoints  # noqa: E402
from bec_lib.redis_connector import RedisConnector  # noqa: E402

Start = Callable[..., SciHubProcess]
STATUS_KEY = MessageEndpoints.service_status("SciHub").endpoint


def _status(client: redis.Redis) -> BECStatus | None:
    raw = client.get(STATUS_KEY)
    return None if raw is None else loads(raw).status


def test_heartbeat_only_while_the_process_runs(start_scihub: Start, clean_redis: str) -> None:
    hub = start_scihub(clean_redis)
    hub.wait_running()
    client = redis.Redis.from_url(clean_redis)
    assert 0 < client.pttl(STATUS_KEY) <= 1000  # heartbeat_expiry 1.0 s

    watch = ExpiryWatch(client, STATUS_KEY)
    try:
        os.kill(hub.pid, signal.SIGSTOP)  # its loops stop: nothing refreshes the key
        try:
            assert watch.wait(10.0), "SciHub heartbeat did not expire while the process was stopped"
            assert _status(client) is None
        finally:
            os.kill(hub.pid, signal.SIGCONT)
        hub.wait_running()  # it comes back by itself

        os.kill(hub.pid, signal.SIGKILL)  # killed: no goodbye, the key just expires
        assert hub.proc.wait(10) == -signal.SIGKILL
        assert watch.wait(10.0), "SciHub heartbeat outlived the killed process"
    finally:
        watch.close()
    assert _status(client) is None


def test_sigterm_says_goodbye_with_exit_code_0(start_scihub: Start, clean_redis: str) -> None:
    hub = start_scihub(clean_redis)
    hub.wait_running()
    assert hub.stop() == 0
    client = redis.Redis.from_url(clean_redis)
    assert _status(client) is BECStatus.IDLE


def test_a_sink_that_is_not_installed_stops_the_start(start_scihub: Start, clean_redis: str) -> None:
    hub = start_scihub(clean_redis, logbook={"sinks": ["file", "scilog-at-psi"]})
    assert hub.proc.wait(30) == 2
    assert "no sink 'scilog-at-psi' in bec_core.logbook_sinks (file, stream)" in hub.output()
    assert _status(redis.Redis.from_url(clean_redis)) is None


def test_stock_scilog_message_lands_in_the_file_and_stream_sinks(
    start_scihub: Start, clean_redis: str, tmp_path: Path
) -> None:
    book = tmp_path / "book.jsonl"
    hub = start_scihub(clean_redis, logbook={"sinks": ["file", "stream"], "file": str(book)})
    hub.wait_running()
    client = redis.Redis.from_url(clean_redis)
    from bec_lib.messaging_services import SciLogMessagingService

    conn = RedisConnector(clean_redis.removeprefix("redis://"))
    try:
        scilog = SciLogMessagingService(conn)
        wait_for(lambda: scilog._enabled, 10.0, "stock SciLog service enabled by SciHub's announcement")
        attachment = tmp_path / "plot.png"
        attachment.write_bytes(b"\x89PNG fake image bytes")
        scilog.new("Sample <b>aligned</b>").add_tags(["align", "samx"]).add_attachment(str(attachment)).send()
    finally:
        conn.shutdown()

    records = wait_for(lambda: read_records(book), 10.0, "the logbook record in the file sink")
    (record,) = records
    assert record["service"] == "scilog" and record["scope"] == "local"
    assert record["text"] == ["Sample <b>aligned</b>"]
    assert record["tags"] == ["bec", "align", "samx"]  # stock adds its default tag "bec"
    (att,) = record["attachments"]
    assert att["filename"] == "plot.png" and att["mime_type"] == "image/png"
    assert Path(att["path"]).read_bytes() == attachment.read_bytes()

    entries = client.xread({"internal/scihub/logbook": "0-0"}, block=10_000)
    assert entries, "nothing in the stream sink"
    assert len(entries[0][1]) == 1
    # acknowledged: nothing pending in SciHub's consumer group
    assert client.xpending("internal/message_service/queue", "scihub")["pending"] == 0


def test_messages_queued_while_scihub_is_down_are_delivered_later(
    start_scihub: Start, clean_redis: str, tmp_path: Path
) -> None:
    book = tmp_path / "book.jsonl"
    first = start_scihub(clean_redis, logbook={"file": str(book)})
    first.wait_running()
    assert first.stop() == 0
    conn = RedisConnector(clean_redis.removeprefix("redis://"))
    try:
        msg = bec_messages.MessagingServiceMessage(
            service_name="scilog", message=[bec_messages.MessagingServiceTextContent(content="while down")]
        )
        conn.xadd(BecEndpoints.message_service_queue(), {"data": msg}, max_size=50, expire=1000)
    finally:
        conn.shutdown()
    raw = redis.Redis.from_url(clean_redis)  # a wrong message and undecodable bytes: reported, acknowledged
    raw.xadd("internal/message_service/queue", {"data": dumps(VariableMessage(value=1))})
    raw.xadd("internal/message_service/queue", {"data": b"\xc1 not msgpack"})
    second = start_scihub(clean_redis, logbook={"file": str(book)})
    second.wait_running()
    records = wait_for(lambda: read_records(book), 10.0, "the record queued while SciHub was down")
    assert [r["text"] for r in records] == [["while down"]]
    wait_for(lambda: "expected a MessagingServiceMessage, got VariableMessage" in second.output(), 10.0,
             "the wrong entry reported")  # fmt: skip
    wait_for(lambda: raw.xpending("internal/message_service/queue", "scihub")["pending"] == 0, 10.0,
             "all three entries acknowledged")  # fmt: skip
    assert second.output().count("dropped") == 2
    assert second.proc.poll() is None


def test_a_major_alarm_is_routed_to_the_logbook_as_configured_by_a_stock_client(
    start_scihub: Start, clean_redis: str, tmp_path: Path
) -> None:
    book = tmp_path / "book.jsonl"
    hub = start_scihub(clean_redis, logbook={"file": str(book)})
    hub.wait_running()
    from bec_lib.messaging_services import SciLogMessagingService

    conn = RedisConnector(clean_redis.removeprefix("redis://"))
    try:
        scilog = SciLogMessagingService(conn)
        wait_for(lambda: scilog._enabled, 10.0, "stock SciLog service enabled")
        scilog.set_auto_notifications("alarm_major", enabled=True)  # default scope: "local"
        # SciHub learns the route from the notification_config publication
        wait_for(lambda: "notification routes: {'alarm_major': 1}" in hub.output(), 10.0, "route known")
        conn.raise_alarm(
            severity=Alarms.MAJOR,
            info=bec_messages.ErrorInfo(
                error_message="Beam lost: ring current 0 mA",
                compact_error_message="Beam lost",
                exception_type="BeamLost",
            ),
        )
        conn.raise_alarm(  # a MINOR one has no route
            severity=Alarms.MINOR,
            info=bec_messages.ErrorInfo(error_message="x", compact_error_message="minor", exception_type="X"),
        )
    finally:
        conn.shutdown()
    records = wait_for(lambda: read_records(book), 10.0, "the routed alarm in the logbook")
    assert [(r["service"], r["scope"], r["text"], r["tags"]) for r in records] == [
        ("scilog", "local", ["Beam lost"], ["bec"])
    ]


def _request(url: str, action: str) -> dict:
    rid = str(uuid.uuid4())
    conn = RedisConnector(url.removeprefix("redis://"))
    try:
        conn.send(
            BecEndpoints.service_request(),
            bec_messages.ServiceRequestMessage(action=action, metadata={"RID": rid}),
        )
        reply = conn.blocking_list_pop(BecEndpoints.service_response(rid), timeout_s=10)
    finally:
        conn.shutdown()
    assert reply is not None, f"no answer to the {action} request"
    assert reply.metadata["RID"] == rid
    return reply.response


def test_restart_is_refused_with_a_reason_when_nothing_can_restart(
    start_scihub: Start, clean_redis: str
) -> None:
    hub = start_scihub(clean_redis)  # not started by bec-server, no restart_command
    hub.wait_running()
    response = _request(clean_redis, "restart")
    assert response["accepted"] is False
    assert "was not started by 'bec-server start'" in response["message"]
    assert "scihub.restart_command" in response["message"]
    client = redis.Redis.from_url(clean_redis)
    notices = [loads(f[b"data"]) for _id, f in client.xrange("user/client_info")]
    assert notices[-1].source == "scihub" and notices[-1].severity == 2
    assert hub.proc.poll() is None  # still serving


def test_restart_runs_the_configured_command(start_scihub: Start, clean_redis: str, tmp_path: Path) -> None:
    marker = tmp_path / "restarted"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('yes')"]
    hub = start_scihub(clean_redis, restart_command=command)
    hub.wait_running()
    response = _request(clean_redis, "restart")
    assert response["accepted"] is True and "restarting the services" in response["message"]
    wait_for(marker.is_file, 10.0, "the restart command to run")
    assert (hub.state / "logs" / "scihub-restart.log").is_file()
