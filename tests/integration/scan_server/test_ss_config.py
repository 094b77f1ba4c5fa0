"""Device-config changes are acknowledged by the scan server and applied; the ACL user check.

Real processes (own module stack: disabling samx does not leak into other modules).
"""

from __future__ import annotations

import asyncio
import uuid

from ss_harness import DEADLINE, request, scan_id_of, submit

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceConfigMessage, ScanQueueMessage


async def config_change(conn, config: dict, rid: str | None = None) -> dict:
    """Send a config ``update`` as a stock client does; return the acks ``{service: response}``.

    Waits (event-driven: keyspace notifications of the private Redis on the
    ack list) until both the DeviceServer's and the ScanServer's ack are in
    ``user/services/response/<RID>``, as ``ConfigHelper.wait_for_service_response``
    requires.
    """
    rid = rid or str(uuid.uuid4())
    ep = MessageEndpoints.service_response(rid)
    await conn.redis.config_set("notify-keyspace-events", "Kl")
    pubsub = conn.redis.pubsub()
    await pubsub.subscribe(f"__keyspace@0__:{ep.endpoint}")
    try:
        await conn.send(
            MessageEndpoints.device_config_request(),
            DeviceConfigMessage(action="update", config=config, metadata={"RID": rid}),
        )

        async def both() -> dict:
            while True:
                acks = {a.response["service"]: a for a in await conn.lrange(ep, 0, -1)}
                if {"DeviceServer", "ScanServer"} <= set(acks):
                    return acks
                await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)

        try:
            acks = await asyncio.wait_for(both(), DEADLINE)
        except TimeoutError:
            found = await conn.lrange(ep, 0, -1)
            raise AssertionError(f"config change {rid}: acks after {DEADLINE} s: {found}") from None
    finally:
        await pubsub.aclose()
    reply = await conn.get(MessageEndpoints.device_config_request_response(rid))
    assert reply.accepted, reply.message
    ttl = await conn.redis.ttl(ep.endpoint)
    assert 0 < ttl <= 100
    return acks


async def test_config_change_is_acknowledged_and_applied(conn, rec):
    rid = str(uuid.uuid4())
    acks = await config_change(conn, {"samx": {"enabled": False}}, rid)
    assert acks["ScanServer"].response == {"accepted": True, "service": "ScanServer"}
    assert acks["ScanServer"].metadata["RID"] == rid
    # the scan server's view was refreshed before it acknowledged
    response = await submit(conn, rec, request("line_scan", {"samx": [0, 1]}, steps=3, relative=False))
    assert not response.accepted and "samx: device is disabled" in response.message
    # and back
    await config_change(conn, {"samx": {"enabled": True}})
    msg = request("line_scan", {"samx": [0, 1]}, steps=3, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "a scan on the re-enabled samx")


async def test_config_update_without_rid_is_not_acknowledged(conn):
    before = set(await conn.keys("user/services/response/*"))
    # an update without RID (published as the device server would), then one with an RID
    await conn.send(
        MessageEndpoints.device_config_update(), DeviceConfigMessage(action="reload", config=None)
    )
    await config_change(conn, {"samy": {"description": "moved by the test"}})
    # updates are handled in order: the RID-less one is done, and left no ack list behind
    after = set(await conn.keys("user/services/response/*"))
    assert len(after - before) == 1


async def send_as(conn, user: str, acl_user: str | None) -> ScanQueueMessage:
    msg = request("acquire")
    if acl_user is None:
        del msg.metadata["client_info"]
    else:
        msg.metadata["client_info"]["acl_user"] = acl_user
    await conn.send(MessageEndpoints.scan_queue_request(user), msg)
    return msg


async def test_acl_user_must_match_the_channel(conn, rec):
    bad = await send_as(conn, "alice", "bob")
    rid = bad.metadata["RID"]
    response = await rec.wait_for(lambda: rec.response(rid), "the rejection")
    assert not response.accepted
    assert response.message == "request on personal/alice/queue/queue_request claims acl_user 'bob'"
    for acl_user in ("alice", None):  # matching, or no claim at all (as BEC)
        ok = await send_as(conn, "alice", acl_user)
        response = await rec.wait_for(lambda m=ok: rec.response(m.metadata["RID"]), "the response")
        assert response.accepted, response.message
        scan_id = await scan_id_of(rec, ok.metadata["RID"])
        await rec.wait_for(lambda s=scan_id: "closed" in rec.statuses(s), "the scan ran")
