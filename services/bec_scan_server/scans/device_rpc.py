"""``device_rpc``: the internal request stock clients use for every device method call."""

from __future__ import annotations

from bec_scan_server.scans.args import Arg
from bec_scan_server.scans.base import ScanAPI, ScanBase

#: calls that only read: answered at once, without waiting for the queue
READ_ONLY_FUNCS = ("read", "get", "read_configuration", "describe", "describe_configuration")


class DeviceRPC(ScanBase):
    """Scan implementation.

    The internal request behind every device method call of a client
    (``dev.samx.velocity.get()``): the device server runs the call.
    """

    scan_name = "device_rpc"
    class_name = "DeviceRpc"
    is_scan = False
    is_internal = True
    scan_type = None
    positional = (
        Arg("device", "DeviceBase", display_name="Device", description="Device."),
        Arg("func", "str", display_name="RPC function", description="RPC function."),
        Arg(
            "func_args",
            "list",
            display_name="RPC function arguments",
            description="RPC function arguments.",
            fallback=[],
        ),
        Arg(
            "func_kwargs",
            "dict",
            display_name="RPC function keyword arguments",
            description="RPC function keyword arguments.",
            fallback={},
        ),
        Arg("rpc_id", "str", display_name="RPC ID", description="RPC ID."),
    )
    returns_to_start = False

    def motors(self) -> list[str]:
        return []

    @classmethod
    def tolerated(cls) -> dict[str, Arg]:
        return {}

    def devices(self) -> list[str]:
        return [str(self.kw["device"]).split(".")[0]]

    def report_instructions(self) -> list[dict]:
        return []

    @property
    def read_only(self) -> bool:
        """True for get/read-like calls, which bypass the queue."""
        return str(self.kw["func"]).split(".")[-1] in READ_ONLY_FUNCS

    async def run(self, api: ScanAPI) -> None:
        await api.rpc(
            self.kw["device"],
            self.kw["func"],
            self.kw["rpc_id"],
            self.kw["func_args"],
            self.kw["func_kwargs"],
        )
