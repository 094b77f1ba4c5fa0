"""Position generators."""

from __future__ import annotations

import numpy as np
import pytest
from bec_scan_server.positions import (
    fermat_positions,
    grid_positions,
    line_positions,
    list_positions,
    round_positions,
)


def test_line():
    pos = line_positions([(-5, 5), (0, 1)], 11)
    assert pos.shape == (11, 2)
    np.testing.assert_allclose(pos[:, 0], np.linspace(-5, 5, 11))
    with pytest.raises(ValueError):
        line_positions([(0, 1)], 0)


def test_grid_snaked_and_not():
    # the first motor is the fast axis (stock BEC 4.3)
    snaked = grid_positions([(0, 2, 3), (0, 1, 2)], snaked=True)
    assert snaked.tolist() == [[0, 0], [1, 0], [2, 0], [2, 1], [1, 1], [0, 1]]
    plain = grid_positions([(0, 2, 3), (0, 1, 2)], snaked=False)
    assert plain.tolist() == [[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]]


def test_grid_three_axes_visits_every_point_once():
    pos = grid_positions([(0, 1, 2), (0, 1, 3), (0, 1, 4)], snaked=True)
    assert len(pos) == 24
    assert len({tuple(p) for p in pos}) == 24
    changed = (np.abs(np.diff(pos, axis=0)) > 1e-12).sum(axis=1)
    assert (changed == 1).all()  # snaking: one axis moves one step at a time, never back across a line


def test_list():
    assert list_positions([[1, 2], [3, 4]]).tolist() == [[1, 3], [2, 4]]
    with pytest.raises(ValueError, match="same length"):
        list_positions([[1], [1, 2]])


def test_fermat_inside_the_rectangle():
    pos = fermat_positions(-5, 5, -2, 2, step=0.5)
    assert len(pos) > 50
    assert (np.abs(pos[:, 0]) <= 5).all() and (np.abs(pos[:, 1]) <= 2).all()
    with pytest.raises(ValueError):
        fermat_positions(0, 1, 0, 1, step=0)


def test_round_rings():
    pos = round_positions(0, 3, 3, 4)
    assert len(pos) == 4 + 8 + 12
    radii = np.round(np.hypot(pos[:, 0], pos[:, 1]), 9)
    assert sorted(set(radii.tolist())) == [1.0, 2.0, 3.0]
