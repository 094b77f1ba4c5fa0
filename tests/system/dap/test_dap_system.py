"""System test: bec-dap as a process beside bec-core's device and scan servers, used through stock
bec_lib 4.3.2's own client-side DAP code (``bec_lib.dap_plugins.DAPPlugins``, what ``bec.dap`` is)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dap_stack import CENTER, DAP, SIGMA, scan_request

pytestmark = pytest.mark.system
STOCK_MODELS = sorted(
    json.loads(
        (Path(__file__).resolve().parents[2] / "data" / "dap" / "stock_available_plugins.json").read_text()
    )["models"]
)


def run_scan(system: dict, steps: int, exp_time: float = 0.0, wait: bool = True) -> tuple[str, str]:
    """A line scan of samx over 0..10 reading bpm4i; returns (RID, scan_id) once it is open
    (and closed, with ``wait``)."""
    rid, msg = scan_request(
        system["messages"],
        "line_scan",
        {"samx": [0, 2 * CENTER]},
        steps=steps,
        relative=False,
        exp_time=exp_time,
    )
    observer = system["observer"]
    system["connector"].send(system["E"].scan_queue_request("default"), msg)

    def status(state: str) -> Any:
        return next(
            (m for m in observer.msgs["status"] if m.metadata.get("RID") == rid and m.status == state), None
        )

    scan_id = observer.wait_for(lambda: status("open"), f"scan {rid} open").scan_id
    if wait:
        observer.wait_for(lambda: status("closed"), f"scan {rid} closed")
    return rid, scan_id


def raw_request(
    system: dict, config: dict, dap_type: str = "on_demand", dap_cls: str = "LmfitService1D"
) -> Any:
    """Send a DAPRequestMessage as stock's client does and wait for the response under its RID."""
    E, messages, observer = system["E"], system["messages"], system["observer"]
    rid = str(uuid.uuid4())
    system["connector"].register(E.dap_response(rid), cb=observer.cb, name=rid)
    system["connector"].set_and_publish(
        E.dap_request(),
        messages.DAPRequestMessage(dap_cls=dap_cls, dap_type=dap_type, config=config, metadata={"RID": rid}),
    )
    return observer.wait_for(lambda: next(iter(observer.msgs[rid]), None), f"DAP response {rid}")


def test_stock_client_lists_the_models_stock_offers(system: dict) -> None:
    dap = system["dap"]
    offered = sorted(name for name in dir(dap) if name.endswith("Model") and not name.startswith("_"))
    assert offered == STOCK_MODELS
    assert {"GaussianModel", "LorentzianModel", "VoigtModel"} <= set(offered)
    fit = dap.GaussianModel.fit
    assert list(fit.__signature__.parameters)[:5] == [
        "scan_item",
        "device_x",
        "signal_x",
        "device_y",
        "signal_y",
    ]
    plugins = system["connector"].get(system["E"].dap_available_plugins(DAP))
    assert sorted(plugins.content["resource"]) == STOCK_MODELS


def test_gaussian_fit_of_a_finished_scan_finds_the_centre(system: dict) -> None:
    steps = 101
    _, scan_id = run_scan(system, steps)
    fit = system["dap"].GaussianModel.fit(scan_id, "samx", "samx", "bpm4i", "bpm4i")
    assert type(fit).__name__ == "LmfitService1DResult"  # stock's own result class
    error = fit.report["fit_errors"]["center"]
    assert error is not None and 0 < error < 0.1
    assert abs(fit.center - CENTER) < max(5 * error, 0.05)  # the noise is uniform in [0, 10) on 200
    assert abs(fit.sigma - SIGMA) < 0.1
    assert len(fit.data["x"]) == len(fit.data["y"]) == steps
    assert fit.report["input"]["scan_id"] == scan_id
    assert fit.report["fit_summary"]["success"] is True
    peak = fit.max
    assert abs(peak["x"] - CENTER) < 0.1

    # without signals and without a scan: the newest scan, each device's hinted signal
    latest = system["dap"].GaussianModel.fit(device_x="samx", device_y="bpm4i")
    assert latest.report["input"]["scan_id"] == scan_id
    assert (latest.report["input"]["signal_x"], latest.report["input"]["signal_y"]) == ("samx", "bpm4i")
    assert latest.center == pytest.approx(fit.center)

    # x range and oversampling, as stock's signature allows
    ranged = system["dap"].GaussianModel.fit(
        scan_id, "samx", "samx", "bpm4i", "bpm4i", x_min=3, x_max=7, oversample=2
    )
    assert len(ranged.data["x"]) == 2 * steps
    assert abs(ranged.center - CENTER) < 0.2


def test_continuous_fit_updates_while_the_scan_runs(system: dict) -> None:
    dap, observer = system["dap"], system["observer"]
    dap.GaussianModel.select(system["DeviceBase"](name="bpm4i"), "bpm4i")  # as stock's e2e test
    dap.GaussianModel.auto_run = True
    steps = 100
    try:
        _, scan_id = run_scan(system, steps, exp_time=0.04)  # 4 s: room for refits after the peak

        def fits() -> list[Any]:
            return [m for m in observer.msgs["fits"] if m.metadata["input"]["scan_id"] == scan_id]

        observer.wait_for(
            lambda: any(m.metadata["input"]["num_points"] == steps for m in fits()),
            "the final continuous fit",
        )
        counts = [m.metadata["input"]["num_points"] for m in fits()]
        assert len(counts) >= 2 and min(counts) < steps, counts  # refitted during the scan
        assert counts == sorted(counts)
        final = next(m for m in fits() if m.metadata["input"]["num_points"] == steps)
        assert abs(final.metadata["fit_parameters"]["center"] - CENTER) < 0.2
        # stock's client reads the newest result back as in its e2e test_dap_fit
        result = dap.GaussianModel.get_data()
        assert result.report["input"]["scan_id"] == scan_id
        assert np.isclose(result.center, CENTER, atol=0.5)
    finally:
        dap.GaussianModel.auto_run = False
    # switched off: the next scan gets no fits
    seen = len(observer.msgs["fits"])
    _, quiet = run_scan(system, 5)
    follow_up = system["dap"].GaussianModel.fit(
        quiet, "samx", "samx", "bpm4i", "bpm4i"
    )  # answered after the scan
    assert follow_up.report["input"]["scan_id"] == quiet
    assert not [m for m in observer.msgs["fits"][seen:] if m.metadata["input"]["scan_id"] == quiet]


@pytest.mark.parametrize(
    ("args", "kwargs", "text"),
    [
        (
            ("SCAN", "samx", "samx", "nope", "nope"),
            {},
            "device 'nope' is not in the scan's data; it has bpm4i, samx",
        ),
        (
            ("SCAN", "samx", "samx", "bpm4i", "bogus"),
            {},
            "signal 'bogus' of 'bpm4i' is not in the scan's data",
        ),
        (("no-such-scan", "samx", "samx", "bpm4i", "bpm4i"), {}, "scan 'no-such-scan' is not known"),
        (("SCAN", "samx", "samx", "bpm4i", "bpm4i"), {"max_nfev": 2}, "GaussianModel fit did not converge"),
        (("SCAN", "samx", "samx", "bpm4i", "bpm4i"), {"x_min": 50}, "a fit needs at least 3"),
        (
            ("SCAN", "samx", "samx", "bpm4i", "bpm4i"),
            {"parameters": {"centre": {"value": 1}}},
            "unknown parameter 'centre'",
        ),
        (("SCAN",), {"device_x": "samx"}, "device_y is required"),
    ],
    ids=["device", "signal", "scan", "no-convergence", "no-data-in-range", "parameter", "no-y"],
)
def test_bad_requests_through_the_stock_client_say_why(
    system: dict, args: tuple, kwargs: dict, text: str
) -> None:
    scan_id = system["connector"].get(system["E"].scan_status()).scan_id
    args = tuple(scan_id if a == "SCAN" else a for a in args)
    with pytest.raises(RuntimeError) as info:  # stock's client raises the response's error
        system["dap"].GaussianModel.fit(*args, **kwargs)
    assert text in str(info.value)


def test_raw_bad_requests_are_answered_with_their_rid_and_the_service_keeps_running(system: dict) -> None:
    E, connector = system["E"], system["connector"]
    unknown = raw_request(
        system, {"args": [], "kwargs": {}, "class_args": [], "class_kwargs": {"model": "NoSuchModel"}}
    )
    assert unknown.success is False and "unknown model 'NoSuchModel'" in unknown.error
    assert "GaussianModel" in unknown.error  # the text lists what is available
    other = raw_request(system, {"args": [], "kwargs": {}}, dap_cls="SomeOtherService")
    assert other.success is False and "unknown DAP plugin class 'SomeOtherService'" in other.error
    bad_continuous = raw_request(
        system,
        {"auto_run": True, "class_args": [], "class_kwargs": {"model": "GaussianModel"}},
        dap_type="continuous",
    )
    assert bad_continuous.success is False and "selected_device" in bad_continuous.error
    assert bad_continuous.metadata["RID"] and bad_continuous.dap_request.dap_cls == "LmfitService1D"

    # bytes that are no message, and a request without RID: nothing to answer, nothing breaks
    connector._redis_conn.publish(E.dap_request().endpoint, b"\x00not msgpack")
    connector.set_and_publish(
        E.dap_request(),
        system["messages"].DAPRequestMessage(
            dap_cls="LmfitService1D", dap_type="on_demand", config={}, metadata={}
        ),
    )
    x = np.linspace(0, 10, 50)
    good = raw_request(
        system,
        {
            "args": [],
            "kwargs": {"data_x": x, "data_y": 10 * np.exp(-((x - 3) ** 2) / 2)},
            "class_args": [],
            "class_kwargs": {"model": "GaussianModel"},
        },
    )
    assert good.success is True and good.data[1]["fit_parameters"]["center"] == pytest.approx(3.0, abs=1e-6)
    assert system["procs"]["dap"].alive()
    assert connector.get(E.service_status(DAP)).status == system["messages"].BECStatus.RUNNING


def test_sigterm_stops_the_service_cleanly(system: dict) -> None:
    E, observer, messages = system["E"], system["observer"], system["messages"]
    assert system["procs"]["dap"].stop() == 0
    observer.wait_for(
        lambda: any(m.status == messages.BECStatus.IDLE for m in observer.msgs[DAP]),
        "DAPServer heartbeat IDLE",
    )
    assert system["connector"].get(E.service_status(DAP)).status == messages.BECStatus.IDLE
