"""Reconstructor invariants, parametrised over the registry: a new reconstructor is tested by being registered.

Checked for every name of `available_reconstructors(built_in=True)` and for a tiny random checkpoint of
every learned family of `LEARNED_RECONSTRUCTORS` (written in code, loaded by its folder): the
`Reconstruction`'s shapes and dtypes, finite non-negative losses, the frames= subset, batch rows
independent, and a gaze on another grid refused in one line. That more gazed patches never rebuild worse
is a property of a working reconstructor, not of random weights: checked for the built-in names.
"""

import numpy as np
import pytest
import torch
from conftest import tiny_checkpoints

from playground import GazeResult, PlaygroundError, available_reconstructors, load_gazer, load_reconstructor
from playground.geometry import grid_for
from playground.reconstructors import LEARNED_RECONSTRUCTORS

NAMES = available_reconstructors(built_in=True)
EVERY = NAMES + tiny_checkpoints(LEARNED_RECONSTRUCTORS)


@pytest.fixture(scope="module")
def clip(synthetic_clip):
    return synthetic_clip[:4]


@pytest.mark.parametrize("name", EVERY)
def test_shapes_and_values(name, clip):
    rec = load_reconstructor(name)
    gaze = load_gazer("random", grid=rec.grid).gaze(clip, gazing_ratio=0.2)
    out = rec.reconstruct(clip, gaze)
    T, C = clip.shape[0], rec.grid.canvas
    assert out.frames.shape == (1, T, C, C, 3) and out.frames.dtype == torch.uint8
    assert out.loss.shape == out.psnr.shape == out.ssim.shape == (1, T)
    assert torch.isfinite(out.loss).all() and (out.loss >= 0).all()
    assert out.frame_indices.tolist() == list(range(T))


@pytest.mark.parametrize("name", NAMES)
def test_more_patches_never_rebuild_worse(name, clip):
    rec = load_reconstructor(name)
    every = load_gazer("full", grid=rec.grid).gaze(clip[:1])
    none = GazeResult.from_frame_slots([[[]]], rec.grid)
    assert float(rec.reconstruct(clip[:1], every).loss.mean()) <= float(rec.reconstruct(clip[:1], none).loss.mean())


@pytest.mark.parametrize("name", EVERY)
def test_frame_subset_and_batch_rows(name, clip):
    rec = load_reconstructor(name)
    gaze = load_gazer("random", grid=rec.grid).gaze(clip, gazing_ratio=0.2)
    whole = rec.reconstruct(clip, gaze)
    assert rec.reconstruct(clip, gaze, frames=[0, 2]).frames.shape[1] == 2
    both = rec.reconstruct(
        np.stack([clip, clip]),
        GazeResult.from_frame_slots([[gaze.frame_slots(0, t).tolist() for t in range(clip.shape[0])]] * 2, rec.grid),
    )
    assert torch.allclose(both.loss[1], whole.loss[0], atol=1e-5)


@pytest.mark.parametrize("name", EVERY)
def test_gaze_on_another_grid_is_one_line(name, clip):
    other = GazeResult.from_frame_slots([[[0]] * clip.shape[0]], grid_for([64, 128, 224, 448], 16))
    with pytest.raises(PlaygroundError) as err:
        load_reconstructor(name).reconstruct(clip, other)
    assert "\n" not in str(err.value)
