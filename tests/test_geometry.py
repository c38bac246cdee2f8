"""Multi-scale slot geometry: layout as the reference, round trips, masks and coverage."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from playground import PlaygroundError
from playground.geometry import DEFAULT_GRID, MultiScaleGrid, grid_for


def test_default_grid_matches_reference_layout():
    g = DEFAULT_GRID
    assert g.counts == (4, 16, 49, 196) and g.num_slots == 265
    assert g.offsets == (0, 4, 20, 69, 265)
    # 0-3 the 2x2 grid, 4-19 the 4x4, 20-68 the 7x7, 69-264 the 14x14, row-major in each.
    assert g.slot(0) == (0, 0, 0, 0, (0, 0, 112, 112))
    assert g.slot(3).box == (112, 112, 224, 224)
    assert g.slot(4) == (0, 1, 0, 0, (0, 0, 56, 56))
    assert g.slot(20 + 7 + 2) == (0, 2, 1, 2, (32, 64, 64, 96))
    assert g.slot(264) == (0, 3, 13, 13, (208, 208, 224, 224))
    assert g.slot(265 * 5 + 69) == (5, 3, 0, 0, (0, 0, 16, 16))


def test_general_grids():
    assert grid_for([64, 128, 224, 448], 16).num_slots == 1060
    assert grid_for("56+112+196+392", 14).num_slots == 1060
    assert grid_for("224+32+112+64", 16) == DEFAULT_GRID  # sorted ascending as the config string is


@pytest.mark.parametrize("scales,patch", [([30, 64], 16), ([], 16), ([32, 32], 16), ([32], 0)])
def test_bad_grids_raise_one_line(scales, patch):
    with pytest.raises(PlaygroundError) as err:
        MultiScaleGrid(tuple(scales), patch)
    assert "\n" not in str(err.value)


grids = st.sampled_from(
    [DEFAULT_GRID, grid_for([64, 128, 224, 448], 16), grid_for([56, 112, 196, 392], 14), grid_for([16, 48], 16)]
)


@settings(max_examples=60, deadline=None)
@given(grid=grids, data=st.data())
def test_id_round_trips(grid, data):
    frame = data.draw(st.integers(0, 40))
    local = data.draw(st.integers(0, grid.num_slots - 1))
    gid = grid.to_global(frame, local)
    f, l = grid.from_global(gid)
    assert (int(f), int(l)) == (frame, local)
    scale, row, col = grid.split_local(local)
    assert int(grid.join_local(scale, row, col)) == local
    slot = grid.slot(int(gid))
    assert slot.frame == frame and slot.scale_index == int(scale)
    y0, x0, y1, x1 = slot.box
    assert 0 <= y0 < y1 <= grid.canvas and 0 <= x0 < x1 <= grid.canvas


@pytest.mark.parametrize("grid", [DEFAULT_GRID, grid_for([64, 128, 224, 448], 16)])
def test_boxes_tile_each_scale_exactly(grid):
    for s in range(grid.num_scales):
        ids = np.arange(grid.offsets[s], grid.offsets[s + 1])
        cover = np.zeros((grid.canvas, grid.canvas), int)
        for y0, x0, y1, x1 in grid.boxes(ids):
            cover[y0:y1, x0:x1] += 1
        assert (cover == 1).all()


def test_out_of_range_ids_raise():
    with pytest.raises(PlaygroundError):
        DEFAULT_GRID.split_local([265])


def test_masks_and_coverage():
    g = DEFAULT_GRID
    mask = torch.zeros(2, g.num_slots, dtype=torch.bool)
    mask[0, 0] = True  # top-left 32-scale patch: 112x112 px
    mask[0, 69] = True  # top-left 224-scale patch: 16x16 px
    per_scale = g.split_scales(mask)
    assert [m.shape[-1] for m in per_scale] == [4, 16, 49, 196]
    cov = g.coverage(mask)
    assert cov.shape == (2, 4, 224, 224)
    assert int(cov[0, 0].sum()) == 112 * 112 and int(cov[0, 3].sum()) == 256 and not cov[1].any()
    level = g.finest_scale_map(mask)
    assert level[0, 0, 0] == 3 and level[0, 50, 50] == 0 and level[0, 200, 200] == -1
    assert (level[1] == -1).all()
