"""``device_rpc``: the internal request stock clients use for every device method call."""

from __future__ import annotations

from bec_scan_server.scans.args import Arg
from bec_scan_server.scans.base import ScanAPI, ScanBase

#: calls that only read: answered at once, without waiting for the queue
READ_ONLY_FUNCS = ("read", "get", "read_configuration", "describe", "describe_configuration")


class DeviceRPC(ScanBase):
    """Call a method of a device on the device server (``dev.samx.velocity.get()``)."""

    scan_name = "device_rpc"
    is_scan = False
    is_internal = True
    scan_type = None
    keywords = (
        Arg("device", "str"),
        Arg("func", "str"),
        Arg("func_args", "list", []),
        Arg("func_kwargs", "dict", {}),
        Arg("rpc_id", "str"),
    )
    common = ()

    def motors(self) -> list[str]:
        return []

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
