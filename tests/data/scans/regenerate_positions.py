"""Compute the positions stock BEC 4.3.2 visits for a set of scan arguments (checked in as JSON).

Run with any Python::

    .venv/bin/python tests/data/scans/regenerate_positions.py

It runs stock's own position generators (``bec_lib.position_generators``, and
``bec_lib.path_optimization`` as stock's scan components call it for
``optim_trajectory``) in the stock venv's interpreter (``$BEC_STOCK_VENV``,
default /work/stockvenv) and writes ``stock_positions.json`` next to this file:
``{case: {"scan": name, "args": [...], "kwargs": {...}, "positions": [[...], ...]}}``.
The case arguments are the scan's own (as a client passes them), the stock
call beside them is how stock's scan class feeds its generator.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "stock_positions.json"

_STOCK = r"""
import json
import numpy as np
from bec_lib import position_generators as pg
from bec_lib.path_optimization import PathOptimizerMixin

def optimized(pos, kind, first_direction=1):
    opt = PathOptimizerMixin()
    if kind == "corridor":
        return opt.optimize_corridor(pos, num_iterations=5, fast_axis=0, first_corridor_direction=first_direction)
    if kind == "shell":
        return opt.optimize_shell(pos, num_iterations=5)
    return opt.optimize_nearest_neighbor(pos)

cases = {}
def case(name, scan, args, kwargs, positions):
    cases[name] = {"scan": scan, "args": args, "kwargs": kwargs, "positions": np.asarray(positions).tolist()}

case("line_scan", "line_scan", ["samx", -1, 1, "samy", 0, 2], {"steps": 5, "relative": False},
     pg.line_scan_positions([(-1, 1), (0, 2)], 5))
case("log_scan", "log_scan", ["samx", 1, 10], {"steps": 4, "relative": False}, pg.log_scan_positions([(1, 10)], 4))
case("log_scan_crossing_zero", "log_scan", ["samx", -2, 3], {"steps": 6, "relative": False},
     pg.log_scan_positions([(-2, 3)], 6))
case("grid_scan", "grid_scan", ["samx", -1, 1, 3, "samy", -1, 1, 2], {"relative": False},
     pg.nd_grid_positions([(-1, 1, 3), (-1, 1, 2)], snaked=True))
case("grid_scan_3d_unsnaked", "grid_scan", ["samx", 0, 1, 2, "samy", 0, 2, 3, "samz", 0, 1, 2],
     {"relative": False, "snaked": False}, pg.nd_grid_positions([(0, 1, 2), (0, 2, 3), (0, 1, 2)], snaked=False))
case("grid_scan_3d_snaked", "grid_scan", ["samx", 0, 1, 2, "samy", 0, 2, 3, "samz", 0, 1, 2],
     {"relative": False}, pg.nd_grid_positions([(0, 1, 2), (0, 2, 3), (0, 1, 2)], snaked=True))
case("fermat_scan_e2e", "fermat_scan", ["samx", -1, 1, "samy", -1, 1], {"step": 1.0, "relative": False},
     pg.fermat_spiral_pos(-1, 1, -1, 1, step=1.0))
case("fermat_scan", "fermat_scan", ["samx", -5, 5, "samy", -3, 4, 0.5], {"spiral_type": 0.5, "relative": False},
     pg.fermat_spiral_pos(-5, 5, -3, 4, step=0.5, spiral_type=0.5))
for kind in ("corridor", "nearest", "shell"):
    case(f"fermat_scan_{kind}", "fermat_scan", ["samx", -2, 2, "samy", -2, 2, 0.5],
         {"optim_trajectory": kind, "relative": False},
         optimized(pg.fermat_spiral_pos(-2, 2, -2, 2, step=0.5), kind))
case("fermat_scan_corridor_descending", "fermat_scan", ["samx", 2, -2, "samy", -2, 2, 0.5],
     {"optim_trajectory": "corridor", "relative": False},
     optimized(pg.fermat_spiral_pos(2, -2, -2, 2, step=0.5), "corridor", -1))
case("round_scan", "round_scan", ["samx", "samy", 0.0, 2.0, 2, 3], {"relative": False},
     pg.round_scan_positions(inner_radius=0.0, outer_radius=2.0, number_of_rings=2, points_in_first_ring=3))
case("round_scan_centered", "round_scan", ["samx", "samy", 1.0, 4.0, 3, 4],
     {"center_1": 1.5, "center_2": -2, "relative": False},
     pg.round_scan_positions(1.0, 4.0, 3, 4, center_1=1.5, center_2=-2))
case("round_roi_scan", "round_roi_scan", ["samx", -1.0, 1.0, "samy", -1.0, 1.0],
     {"shell_spacing": 1.0, "pos_in_first_ring": 3, "relative": False},
     pg.get_round_roi_scan_positions(-1.0, 1.0, -1.0, 1.0, radial_step=1.0, points_in_first_shell=3))
case("round_roi_scan_offcenter", "round_roi_scan", ["samx", 0.0, 3.0, "samy", -1.0, 2.0, 0.4, 5],
     {"center_1": 0.5, "relative": False},
     pg.get_round_roi_scan_positions(0.0, 3.0, -1.0, 2.0, 0.4, 5, center_1=0.5))
case("hexagonal_scan", "hexagonal_scan", ["samx", -1, 1, 1, "samy", -1, 1, 1], {"relative": False},
     pg.hex_grid_2d([(-1, 1, 1), (-1, 1, 1)], snaked=True))
case("hexagonal_scan_fine_unsnaked", "hexagonal_scan", ["samx", 0, 2, 0.3, "samy", -1, 1, 0.4],
     {"snaked": False, "relative": False}, pg.hex_grid_2d([(0, 2, 0.3), (-1, 1, 0.4)], snaked=False))
case("multi_region_line_scan", "multi_region_line_scan", ["samx"],
     {"regions": [[-1, 0, 2], [1, 2, 2]], "relative": False},
     pg.multi_region_line_positions([(-1, 0, 2), (1, 2, 2)]))
case("multi_region_line_scan_touching", "multi_region_line_scan", ["samx"],
     {"regions": [[0, 1, 3], [1, 3, 5]], "relative": False},
     pg.multi_region_line_positions([(0, 1, 3), (1, 3, 5)]))
case("multi_region_grid_scan", "multi_region_grid_scan", ["samx", "samy"],
     {"regions": [[[-1, 0, 2], [-1, 0, 2]], [[1, 2, 2], [1, 2, 3]]], "relative": False},
     pg.multi_region_grid_positions([((-1, 0, 2), (-1, 0, 2)), ((1, 2, 2), (1, 2, 3))], snaked=True))
case("cont_line_scan", "cont_line_scan", ["samx", 0.0, 0.2, 3], {"relative": False},
     np.linspace(0.0, 0.2, 3)[:, None])
print(json.dumps(cases, sort_keys=True))
"""


def main() -> None:
    python = Path(os.environ.get("BEC_STOCK_VENV", "/work/stockvenv")) / "bin" / "python"
    out = subprocess.run([str(python), "-c", _STOCK], check=True, capture_output=True, text=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    lines = [f"{json.dumps(name)}: {json.dumps(data[name], sort_keys=True)}" for name in sorted(data)]
    OUT.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"wrote {OUT} ({len(data)} cases)")


if __name__ == "__main__":
    main()
