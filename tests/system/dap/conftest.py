"""The DAP system tests' stack: redis-server, bec-device-server, bec-scan-server and bec-dap as
processes, observed and driven by stock bec_lib 4.3.2."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dap_stack import DEVICES, HEARTBEATS, service
from stock_follower import Follower, stock_modules

from bec_core.redis_server import RedisServer


@pytest.fixture(scope="module")
def bec_lib():
    """Stock bec_lib's pieces; skip without it (fail on CI)."""
    messages, bec_service, dap_plugins, device, endpoints, redis_connector, service_config = stock_modules(
        "messages", "bec_service", "dap_plugins", "device", "endpoints", "redis_connector", "service_config"
    )
    return {
        "messages": messages,
        "BECService": bec_service.BECService,
        "DAPPlugins": dap_plugins.DAPPlugins,
        "DeviceBase": device.DeviceBase,
        "E": endpoints.MessageEndpoints,
        "RedisConnector": redis_connector.RedisConnector,
        "ServiceConfig": service_config.ServiceConfig,
    }


@pytest.fixture(scope="module")
def system(tmp_path_factory, bec_lib):
    tmp = tmp_path_factory.mktemp("dap-system")
    devices = tmp / "devices.yaml"
    devices.write_text(DEVICES)
    redis = RedisServer(persistence="none", data_dir=tmp, log_file=tmp / "redis.log").start()
    E, messages = bec_lib["E"], bec_lib["messages"]
    connector = bec_lib["RedisConnector"](redis.address)
    observer = Follower()
    for name, ep in {
        "status": E.scan_status(),
        "fits": E.processed_data("GaussianModel"),
        **{hb: E.service_status(hb) for hb in HEARTBEATS},
    }.items():
        connector.register(ep, cb=observer.cb, name=name)
    procs = {
        "ds": service("bec-device-server", redis.url, tmp, "--config", str(devices)),
        "ss": service("bec-scan-server", redis.url, tmp),
        "dap": service("bec-dap", redis.url, tmp),
    }
    client = None
    try:
        for hb in HEARTBEATS:

            def running(hb: str = hb) -> bool:
                beat = connector.get(E.service_status(hb))  # the key, in case its publication came first
                return beat is not None and beat.status == messages.BECStatus.RUNNING

            observer.wait_for(running, f"{hb} RUNNING\n" + "\n".join(p.tail() for p in procs.values()))
        config = bec_lib["ServiceConfig"](
            redis={"host": redis.host, "port": redis.port}, log_writer={"base_path": str(tmp)}
        )
        # stock's client-side DAP code (bec.dap) on a stock BECService: BECClient.start() itself does not
        # get that far against bec-core yet (its device manager fails on bec-core's device info)
        client = bec_lib["BECService"](
            config=config,
            connector_cls=bec_lib["RedisConnector"],
            unique_service=False,
            wait_for_server=False,
            name="DAPTestClient",
        )
        dap = bec_lib["DAPPlugins"](client)
        yield {
            **bec_lib,
            "connector": connector,
            "observer": observer,
            "procs": procs,
            "dap": dap,
            "client": client,
            "redis": redis,
        }
    finally:
        if client is not None:
            client.shutdown()
        connector.shutdown()
        for proc in procs.values():
            proc.stop()
        redis.stop()
