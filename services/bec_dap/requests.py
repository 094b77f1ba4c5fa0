"""On-demand fit requests: ``DAPRequestMessage`` in, ``DAPResponseMessage`` out.

The protocol (stock BEC 4.3's, as its client's ``bec.dap.<Model>.fit(...)`` speaks it): the
client SET+PUBLISHes a DAPRequestMessage on ``user/dap/request`` with
``dap_cls="LmfitService1D"`` and ``config = {"args": [...], "kwargs": {...}, "class_args": [],
"class_kwargs": {"model": "GaussianModel"}}`` and ``metadata={"RID": ...}``, then polls
``user/dap/response/<RID>``. The reply is a DAPResponseMessage with ``success``, ``data =
(curve, report)`` (see :mod:`bec_dap.fitting`) or ``error`` (the reason), the request in
``dap_request`` and the request's metadata; it is SET+PUBLISHed with a 60 s expiry.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DAPRequestMessage, DAPResponseMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_dap.errors import DAPError, DAPRequestError
from bec_dap.fitting import FitData, FitOptions
from bec_dap.models import FIT_ARGUMENTS, PLUGIN_CLASS, model_class
from bec_dap.scandata import Axes, ScanDataReader, build_fit_data

log = logging.getLogger(__name__)

RESPONSE_EXPIRY_S = 60
#: keyword arguments besides the ``fit`` signature: lmfit's evaluation limit, stock's
#: ``selected_device`` pair.
EXTRA_KWARGS = ("max_nfev", "selected_device")

#: ``fit(model_spec, data, options) -> (curve, report)``, run off the event loop.
FitRunner = Callable[[Any, FitData, FitOptions], Awaitable[tuple[dict[str, Any], dict[str, Any]]]]


@dataclass
class FitCall:
    """A parsed request: which model, which data, which options."""

    model: Any
    arguments: dict[str, Any]
    options: FitOptions


def requested_model(msg: DAPRequestMessage) -> Any:
    """The model of the request (``class_kwargs["model"]``, else ``class_args[0]``).

    Raises:
        DAPRequestError: another plugin class, or no or an unknown model.
    """
    if msg.dap_cls != PLUGIN_CLASS:
        raise DAPRequestError(f"unknown DAP plugin class {msg.dap_cls!r}; bec-dap offers {PLUGIN_CLASS}")
    config = msg.config
    class_kwargs = config.get("class_kwargs") or {}
    class_args = config.get("class_args") or []
    if not isinstance(class_kwargs, Mapping) or not isinstance(class_args, (list, tuple)):
        raise DAPRequestError("config class_args must be a list and class_kwargs a dict")
    model = class_kwargs.get("model", class_args[0] if class_args else None)
    if model is None:
        raise DAPRequestError("no model given (config class_kwargs['model'])")
    for name in model if isinstance(model, (list, tuple)) else [model]:
        model_class(name)
    return model


def parse_call(msg: DAPRequestMessage) -> FitCall:
    """Map ``config["args"]``/``config["kwargs"]`` onto the ``fit`` signature.

    Keyword arguments named like one of the model's parameters with a parameter dict as value
    (what stock's ``get_params()`` objects turn into) are taken as parameter settings.

    Raises:
        DAPRequestError: unknown model, too many positional arguments, an argument given twice,
            or an unknown keyword argument.
    """
    model = requested_model(msg)
    config = msg.config
    args = config.get("args") or []
    kwargs = config.get("kwargs") or {}
    if not isinstance(args, (list, tuple)) or not isinstance(kwargs, Mapping):
        raise DAPRequestError("config args must be a list and kwargs a dict")
    if len(args) > len(FIT_ARGUMENTS):
        raise DAPRequestError(
            f"fit() takes at most {len(FIT_ARGUMENTS)} positional arguments, got {len(args)}"
        )
    arguments: dict[str, Any] = dict(zip(FIT_ARGUMENTS, args, strict=False))
    parameters: dict[str, Any] = {}
    unknown = []
    for name, value in kwargs.items():
        if name in arguments:
            raise DAPRequestError(f"fit() got argument {name!r} twice")
        if name in FIT_ARGUMENTS or name in EXTRA_KWARGS:
            arguments[name] = value
        elif isinstance(value, Mapping) and "value" in value:
            parameters[name] = value
        else:
            unknown.append(name)
    if unknown:
        raise DAPRequestError(
            f"fit() got unknown argument(s) {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join((*FIT_ARGUMENTS, *EXTRA_KWARGS))}"
        )
    if parameters:
        given = arguments.get("parameters") or {}
        if not isinstance(given, Mapping):
            raise DAPRequestError("parameters must be a dict")
        arguments["parameters"] = {**parameters, **given}
    options = FitOptions(
        parameters=arguments.get("parameters"),
        x_min=arguments.get("x_min"),
        x_max=arguments.get("x_max"),
        oversample=arguments.get("oversample") or 1,
        max_nfev=arguments.get("max_nfev"),
    )
    selected = arguments.get("selected_device")
    if selected:
        if not isinstance(selected, (list, tuple)) or len(selected) != 2:
            raise DAPRequestError(f"selected_device must be [device, signal], not {selected!r}")
        arguments["device_y"], arguments["signal_y"] = selected
    return FitCall(model=model, arguments=arguments, options=options)


async def scan_fit_data(reader: ScanDataReader, scan_id: Any, axes: Axes) -> FitData:
    """x and y of a stored scan (the newest scan when ``scan_id`` is None).

    Raises:
        DAPRequestError: a scan ID that is not a string, no ``device_y``.
        DAPDataError: unknown scan, no points yet, a device or signal not in the data.
    """
    if scan_id is not None and not isinstance(scan_id, str):
        raise DAPRequestError(f"scan_item must be a scan ID, not {scan_id!r}")
    scan_id = scan_id or await reader.latest_scan_id()
    status = await reader.scan_status(scan_id)
    points = await reader.points(scan_id, status)
    return await build_fit_data(reader, scan_id, points, status.scan_report_devices, axes)


class RequestHandler:
    """Answers on-demand requests: parse, read the data, fit (off the loop), reply."""

    def __init__(self, connector: AsyncRedisConnector, reader: ScanDataReader, run_fit: FitRunner) -> None:
        self.connector = connector
        self.reader = reader
        self.run_fit = run_fit
        self.answered = 0
        self.failed = 0

    async def on_demand(self, msg: DAPRequestMessage) -> None:
        """Handle one on-demand request; always replies when the request has a RID."""
        try:
            call = parse_call(msg)
            args = call.arguments
            if args.get("data_x") is not None or args.get("data_y") is not None:
                if args.get("data_x") is None or args.get("data_y") is None:
                    raise DAPRequestError("data_x and data_y must be given together")
                data = FitData(x=np.asarray(args["data_x"]), y=np.asarray(args["data_y"]))
            else:
                axes = Axes(
                    args.get("device_x"), args.get("signal_x"), args.get("device_y"), args.get("signal_y")
                )
                data = await scan_fit_data(self.reader, args.get("scan_item"), axes)
            result = await self.run_fit(call.model, data, call.options)
        except DAPError as exc:
            await self.reply(msg, success=False, error=str(exc))
            return
        except Exception as exc:  # a bug must still answer the client, and not stop the service
            log.exception("DAP request failed")
            await self.reply(msg, success=False, error=f"{type(exc).__name__}: {exc}")
            return
        await self.reply(msg, success=True, data=result)

    async def reply(
        self, msg: DAPRequestMessage, *, success: bool, data: Any = None, error: str | None = None
    ) -> None:
        """SET+PUBLISH the response under the request's RID (a request without one is logged)."""
        rid = (msg.metadata or {}).get("RID")
        if success:
            self.answered += 1
        else:
            self.failed += 1
            log.warning("DAP request %s refused: %s", rid, error)
        if not rid:
            log.error("DAP request without metadata RID cannot be answered (%s)", error or "ok")
            return
        response = DAPResponseMessage(
            success=success, data=data, error=error, dap_request=msg, metadata=msg.metadata
        )
        await self.connector.set_and_publish(
            MessageEndpoints.dap_response(str(rid)), response, expire=RESPONSE_EXPIRY_S
        )
