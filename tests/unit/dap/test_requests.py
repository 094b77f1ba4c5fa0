"""Parsing a stock client's DAPRequestMessage onto the fit signature."""

from __future__ import annotations

import pytest
from bec_dap.continuous import parse_continuous
from bec_dap.errors import DAPRequestError
from bec_dap.requests import parse_call

from bec_core.messages import DAPRequestMessage


def request(
    args=(), kwargs=None, model="GaussianModel", dap_cls="LmfitService1D", **config
) -> DAPRequestMessage:
    return DAPRequestMessage(
        dap_cls=dap_cls,
        dap_type="on_demand",
        config={
            "args": list(args),
            "kwargs": kwargs or {},
            "class_args": [],
            "class_kwargs": {"model": model},
            **config,
        },
        metadata={"RID": "r1"},
    )


def test_positional_arguments_follow_stocks_signature() -> None:
    call = parse_call(request(["scan1", "samx", "samx", "bpm4i", "bpm4i"], {"x_min": 1, "oversample": 3}))
    assert call.model == "GaussianModel"
    assert call.arguments["scan_item"] == "scan1" and call.arguments["device_y"] == "bpm4i"
    assert call.options.x_min == 1 and call.options.oversample == 3


def test_parameter_objects_passed_as_keywords_become_parameter_settings() -> None:
    # what stock's LmfitService1D._run sends after get_params(): each parameter as a keyword
    sigma = {
        "name": "sigma",
        "value": 2.0,
        "vary": False,
        "min": 0,
        "max": None,
        "expr": None,
        "brute_step": None,
    }
    call = parse_call(request(["scan1"], {"sigma": sigma}))
    assert call.options.parameters == {"sigma": sigma}


def test_selected_device_sets_the_y_axis() -> None:
    call = parse_call(request(kwargs={"selected_device": ["bpm4i", "bpm4i"], "device_x": "samx"}))
    assert (call.arguments["device_y"], call.arguments["signal_y"]) == ("bpm4i", "bpm4i")


@pytest.mark.parametrize(
    ("msg", "text"),
    [
        (request(model="Nope"), "unknown model 'Nope'"),
        (request(dap_cls="OtherService"), "unknown DAP plugin class 'OtherService'"),
        (request(["s"] * 12), "at most 11 positional arguments"),
        (request(["s"], {"scan_item": "t"}), "argument 'scan_item' twice"),
        (request(kwargs={"devise_x": "samx"}), "unknown argument(s) 'devise_x'"),
        (request(model=None), "no model given"),
    ],
)
def test_bad_requests_say_why(msg: DAPRequestMessage, text: str) -> None:
    with pytest.raises(DAPRequestError) as info:
        parse_call(msg)
    assert text in str(info.value)


def test_continuous_request_as_select_and_auto_run_send_it() -> None:
    config = {
        "selected_device": ["bpm4i", "bpm4i"],
        "class_args": [],
        "class_kwargs": {"model": "GaussianModel"},
    }
    off = DAPRequestMessage(dap_cls="LmfitService1D", dap_type="continuous", config=config)
    assert parse_continuous(off) is None  # select() alone: nothing runs until auto_run
    on = DAPRequestMessage(
        dap_cls="LmfitService1D", dap_type="continuous", config={**config, "auto_run": True}
    )
    parsed = parse_continuous(on)
    assert parsed is not None and parsed.device_y == "bpm4i" and parsed.stream_name == "GaussianModel"
    with pytest.raises(DAPRequestError, match="selected_device"):
        parse_continuous(
            DAPRequestMessage(
                dap_cls="LmfitService1D",
                dap_type="continuous",
                config={"auto_run": True, "class_kwargs": {"model": "GaussianModel"}},
            )
        )
