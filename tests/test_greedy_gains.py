"""The greedy gazer's incremental rescoring (`SlotGains.update`) against a full rescoring each step.

After a paste only the slots overlapping the pasted box are summed again; the gains, and so the
picks, the per-gaze losses and the frame losses, must equal those of rescoring all slots every step,
bit for bit (ties broken the same way).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.gazers.base import gaze_frames
from playground.gazers.greedy import GreedyGazer, SlotGains
from playground.geometry import MultiScaleGrid

# the default grid, and one whose cells do not nest (10-, 4- and 2-px cells on a 20-px canvas)
TINY_GRID = MultiScaleGrid(scales=(4, 10, 20), patch_size=2)


class FullRescoreGazer(GreedyGazer):
    """Greedy as it was before incremental rescoring: every slot scored afresh after each paste."""

    def _rescore(self, scores, b, slot, err, view_err, level):
        scores.values = self._gains(err, view_err, level)


def assert_same_gaze(clips: np.ndarray, grid: MultiScaleGrid | None = None, **knobs) -> None:
    fast = GreedyGazer(grid).gaze(clips, **knobs)
    full = FullRescoreGazer(grid).gaze(clips, **knobs)
    assert fast.num_gazed > 0
    assert torch.equal(fast.gazing_pos, full.gazing_pos)
    assert torch.equal(fast.if_padded_gazing, full.if_padded_gazing)
    for mine, theirs in ((fast.loss, full.loss), (fast.frame_loss, full.frame_loss)):  # padding is NaN
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("knobs", [{"gazing_ratio": 0.3}, {"gazing_ratio": 0.75, "task_loss_requirement": 0.1}])
def test_real_footage_matches_full_rescoring(example_clip, knobs):
    assert_same_gaze(example_clip[:3], **knobs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_tiny_clips_match_full_rescoring(seed):
    rng = np.random.default_rng(seed)
    clips = rng.integers(0, 256, (2, 3, 20, 20, 3), dtype=np.uint8)  # a batch of two clips
    clips[1, :, :10] = 90  # flat half: many equal gains, so ties decide picks
    assert_same_gaze(clips, TINY_GRID, gazing_ratio=1.0)
    assert_same_gaze(clips, TINY_GRID, gazing_ratio=0.5, task_loss_requirement=0.2)


def test_flat_clip_ties_match_full_rescoring():
    clips = np.zeros((2, 32, 32, 3), np.uint8)
    clips[1, 8:24, 8:24] = 255  # every slot of a scale ties until the square appears
    assert_same_gaze(clips, gazing_ratio=0.2)


def test_update_equals_fresh_scores_after_any_paste():
    gazer = GreedyGazer(TINY_GRID)
    rng = np.random.default_rng(3)
    S, C = TINY_GRID.num_scales, TINY_GRID.canvas
    view_err = torch.from_numpy(rng.random((2, S, C, C), dtype=np.float32))
    err = torch.from_numpy(rng.random((2, C, C), dtype=np.float32)) * 2
    level = torch.full((2, C, C), -1, dtype=torch.long)
    scores = SlotGains(gazer, err, view_err, level)
    for slot in rng.integers(0, TINY_GRID.num_slots, 40).tolist():  # repeats and covered slots too
        b = int(rng.integers(0, 2))
        gazer._apply(slot, b, level, err, view_err)
        scores.update(b, slot, err, view_err, level)
        assert torch.equal(scores.values, gazer._gains(err, view_err, level))


def test_prepared_frames_gaze_as_unprepared(example_clip):
    """`prepare` (the clip's canvas, scale views and their error, made once for a threshold sweep) changes
    no pick and no loss at any threshold, and its size is what `prepared_nbytes` says."""
    gazer, clip = GreedyGazer(), example_clip[:3]
    prepared = gazer.prepare(clip)
    parts = (*prepared.targets, *prepared.views, *prepared.view_err)
    assert gazer.prepared_nbytes(clip.shape) == sum(p.nbytes for p in parts)
    for threshold in (None, 0.1, 0.3):
        alone = gaze_frames(gazer, clip, 0.75, threshold)
        shared = gaze_frames(gazer, clip, 0.75, threshold, prepared=prepared)
        assert shared.num_gazed > 0 and torch.equal(alone.gazing_pos, shared.gazing_pos)
        for mine, theirs in ((shared.loss, alone.loss), (shared.frame_loss, alone.frame_loss)):
            torch.testing.assert_close(mine, theirs, rtol=0, atol=0, equal_nan=True)
