"""Record what stock BEC 4.3.2's DAP server publishes as its available plugins.

Run with stock's interpreter (default /work/stockvenv, or $BEC_STOCK_VENV):

    $BEC_STOCK_VENV/bin/python tests/data/dap/record_stock_plugins.py

It writes ``stock_available_plugins.json`` next to this file: per model the fields of the
plugin description a stock client reads (doc strings left out: they are lmfit's own), so
tests/unit/dap/test_plugins.py can compare ours with stock's without stock servers.
"""

from __future__ import annotations

import json
from pathlib import Path

from bec_server.data_processing.lmfit1d_service import LmfitService1D


def main() -> None:
    models = {}
    signatures = []
    for name, info in sorted(LmfitService1D.get_provided_services().items()):
        models[name] = {
            key: info[key]
            for key in (
                "class",
                "user_friendly_name",
                "run_name",
                "auto_run_supported",
                "params",
                "class_args",
                "class_kwargs",
            )
        }
        models[name]["keys"] = sorted(info)
        models[name]["has_class_doc"] = bool(info["class_doc"])
        models[name]["has_run_doc"] = bool(info["run_doc"])
        signatures.append(info["signature"])
    assert all(sig == signatures[0] for sig in signatures)  # one signature for every model
    out = {"signature": signatures[0], "models": models}
    path = Path(__file__).with_name("stock_available_plugins.json")
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path} ({len(models)} models)")


if __name__ == "__main__":
    main()
