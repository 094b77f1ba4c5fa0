"""``round_scan`` and ``round_roi_scan``: rings of points over two motors."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from bec_scan_server.positions import round_positions, round_roi_positions
from bec_scan_server.scans.args import (
    ACQUISITION,
    ACQUISITION_GROUP,
    BURST_AT_EACH_POINT,
    RELATIVE,
    Arg,
    device,
    start_stop,
)
from bec_scan_server.scans.base import ScanBase

_CENTERS = (
    Arg("center_1", "float", 0, display_name="Center Motor 1", reference_units="motor_1"),
    Arg("center_2", "float", 0, display_name="Center Motor 2", reference_units="motor_2"),
)


class RoundScan(ScanBase):
    (
        "A scan following a round shell-like pattern with increasing number of points in each ring. "
        "The scan starts at the inner ring and moves outwards.\n\n"
        "Ring ``k`` (from 1) lies at ``inner_radius + k * (outer_radius - inner_radius) / number_of_rings``\n"
        "around (center_1, center_2) and has ``k * pos_in_first_ring`` points; the inner radius itself is\n"
        "not visited."
    )

    scan_name = "round_scan"
    positional: ClassVar[tuple[Arg, ...]] = (
        device("motor_1"),
        device("motor_2"),
        Arg("inner_radius", "float", display_name="Inner Radius", reference_units="motor_1", ge=0),
        Arg("outer_radius", "float", display_name="Outer Radius", reference_units="motor_1", ge=0),
        Arg("number_of_rings", "int", display_name="Number of Rings", ge=1),
        Arg("pos_in_first_ring", "int", display_name="Positions in First Ring", ge=1),
    )
    keywords = (RELATIVE, *ACQUISITION, *_CENTERS, BURST_AT_EACH_POINT)
    gui_visibility = {
        "Acquisition Parameters": ACQUISITION_GROUP,
        "Motors": ["motor_1", "motor_2"],
        "Ring Parameters": [
            "inner_radius",
            "outer_radius",
            "center_1",
            "center_2",
            "number_of_rings",
            "pos_in_first_ring",
        ],
        "Scan Parameters": ["relative", "burst_at_each_point"],
    }
    position_preview = "bec_lib.position_generators.round_scan_positions"
    position_preview_parameter_mapping = {
        "center_1": "center_1",
        "center_2": "center_2",
        "inner_radius": "inner_radius",
        "number_of_rings": "number_of_rings",
        "outer_radius": "outer_radius",
        "points_in_first_ring": "pos_in_first_ring",
    }
    examples = ("scans.round_scan(dev.samx, dev.samy, 0, 5, 3, 6, relative=True)",)

    def check(self) -> None:
        if self.kw["motor_1"] == self.kw["motor_2"]:
            raise ValueError(f"{self.scan_name}: motor_1 and motor_2 must be different devices")
        self.positions  # noqa: B018  (raises ValueError for impossible radii)

    def compute_positions(self) -> np.ndarray:
        kw = self.kw
        return round_positions(
            kw["inner_radius"],
            kw["outer_radius"],
            kw["number_of_rings"],
            kw["pos_in_first_ring"],
            kw["center_1"],
            kw["center_2"],
        )


class RoundROIScan(RoundScan):
    """A scan following a round-roi-like pattern.

    Shells ``shell_spacing`` apart around (center_1, center_2), shell ``k``
    with ``k * pos_in_first_ring`` points, kept where they fall inside the
    rectangle spanned by the two motors' ranges.
    """

    scan_name = "round_roi_scan"
    class_name = "RoundROIScan"
    positional = (
        device("motor_1"),
        *start_stop("motor_1", "_motor_1"),
        device("motor_2"),
        *start_stop("motor_2", "_motor_2"),
        Arg("shell_spacing", "float", display_name="Shell Spacing", reference_units="motor_1", gt=0),
        Arg("pos_in_first_ring", "int", display_name="Number of Points in First Shell", ge=1),
    )
    gui_visibility = {
        "Acquisition Parameters": [*ACQUISITION_GROUP, "relative"],
        "Motor 1": ["motor_1", "start_motor_1", "stop_motor_1", "center_1"],
        "Motor 2": ["motor_2", "start_motor_2", "stop_motor_2", "center_2"],
        "Shell Parameters": ["shell_spacing", "pos_in_first_ring"],
    }
    position_preview = "bec_lib.position_generators.get_round_roi_scan_positions"
    position_preview_parameter_mapping = {
        "center_1": "center_1",
        "center_2": "center_2",
        "motor_1_start": "start_motor_1",
        "motor_1_stop": "stop_motor_1",
        "motor_2_start": "start_motor_2",
        "motor_2_stop": "stop_motor_2",
        "points_in_first_shell": "pos_in_first_ring",
        "radial_step": "shell_spacing",
    }
    examples = (
        "scans.round_roi_scan(dev.samx, -1, 1, dev.samy, -1, 1, shell_spacing=0.5, pos_in_first_ring=3, "
        "relative=True)",
    )

    def check(self) -> None:
        super().check()
        if self.num_points() == 0:
            raise ValueError("round_roi_scan: no shell point falls inside the region")

    def compute_positions(self) -> np.ndarray:
        kw = self.kw
        return round_roi_positions(
            kw["start_motor_1"],
            kw["stop_motor_1"],
            kw["start_motor_2"],
            kw["stop_motor_2"],
            kw["shell_spacing"],
            kw["pos_in_first_ring"],
            kw["center_1"],
            kw["center_2"],
        )
