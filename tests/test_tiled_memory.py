"""Tiled runs hold one batch, not one chunk's worth of tiles or float copies of native frames (issue: 4K by
tiles exceeded its memory bound), and the fast paint rebuild is the same rebuild as painting every view."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT

from playground import GazeResult, load_gazer, load_reconstructor, metrics
from playground.geometry import DEFAULT_GRID
from playground.painting import blank_canvas, paint, paint_gazed, scale_views
from playground.pixels import denormalize, to_canvas
from playground.synthetic import moving_square
from playground.tiling import tile_layout
from playground.whole_video import TileClips, frame_coverage

# ---- peak memory of a tiled run --------------------------------------------------------------------

# One run of `run_video` (what `gaze --tile` does) in a fresh process: a 16-frame chunk of 3840x1080 frames and a
# 2-frame one, 480-px tiles (24 a frame), batches of 4. It prints the growth of the peak RSS over the RSS before.
_CHILD = r"""
import json, sys, tempfile
from pathlib import Path
import numpy as np
from playground import load_gazer, load_reconstructor
from playground.video_run import run_video

H, W, TILE, BATCH = 1080, 3840, 480, 4

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

gazer, rec = load_gazer("random"), load_reconstructor("paint")
warm = np.zeros((2, 3, 64, 64, 3), np.uint8)
rec.reconstruct(warm, gazer.gaze(warm, gazing_ratio=0.1))  # first-call allocations are not the run's

def chunks():
    for n in (16, 2):  # the first chunk's last tiles wait for the end, with the second chunk (two chunks held)
        out = np.empty((n, H, W, 3), np.uint8)
        out[..., 0] = (np.arange(W) * 255 // W).astype(np.uint8)
        out[..., 1] = (np.arange(H) * 255 // H).astype(np.uint8)[:, None]
        out[..., 2] = 128
        yield out

before = status("VmRSS:")
with tempfile.TemporaryDirectory() as folder:
    run_video(chunks(), gazer, rec, Path(folder), fps=8, tile=TILE, batch_size=BATCH, gazing_ratio=0.1)
print(json.dumps({"growth": status("VmHWM:") - before, "chunk": 16 * H * W * 3, "batch": BATCH * 16 * TILE * TILE * 3}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads VmHWM from /proc")
def test_a_tiled_run_holds_two_chunks_and_a_batch_at_most():
    # Before the fix this run grew by 2.1 GB: every tile of the chunk cut at once, a float32 copy of the whole
    # chunk at its native size for the overlay, the overlay drawn on float copies of the chunk's previews, and
    # float copies of every rebuilt frame of a batch. Now: the chunk being gazed, the previous one while its last
    # tiles wait for a batch, and a batch of tile clips with the float copies of gazing and rebuilding it
    # (about 0.5 GB here, against a bound of 575 MB).
    proc = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["growth"] < 2 * r["chunk"] + 4 * r["batch"], r


def test_tile_clips_are_cut_when_indexed_and_equal_the_whole_cut():
    frames = moving_square(3, 100, 150)
    layout = tile_layout(100, 150, 64)
    clips, whole = TileClips(frames, layout), layout.cut(frames)
    assert clips.shape == whole.shape and len(clips) == 6
    np.testing.assert_array_equal(clips[5], whole[5])
    np.testing.assert_array_equal(clips[-1], whole[-1])
    np.testing.assert_array_equal(clips[1:4], whole[1:4])
    np.testing.assert_array_equal(clips[[4, 0]], whole[[4, 0]])
    np.testing.assert_array_equal(np.asarray(clips), whole)
    np.testing.assert_array_equal(layout.cut(frames, tiles=[2, 2]), whole[[2, 2]])


# ---- the paint rebuild ---------------------------------------------------------------------------------


def test_paint_gazed_is_paint_over_every_scale_view():
    g = torch.Generator().manual_seed(0)
    frames, previous = torch.randn(3, 3, 224, 224, generator=g), torch.randn(3, 3, 224, 224, generator=g)
    mask = torch.rand(3, DEFAULT_GRID.num_slots, generator=g) < 0.1
    mask[2] = False  # a clip with nothing gazed keeps its previous frame
    level = DEFAULT_GRID.finest_scale_map(mask)
    expected = paint(previous, scale_views(frames, DEFAULT_GRID), level)
    assert torch.equal(paint_gazed(previous, frames, level, DEFAULT_GRID), expected)
    assert torch.equal(paint_gazed(previous, frames, level, DEFAULT_GRID)[2], previous[2])


def _paint_all_at_once(clips: np.ndarray, gaze: GazeResult, frames: list[int]):
    """The paint rebuild as it was: every scale view painted, every frame kept, all measured at once."""
    grid = DEFAULT_GRID
    levels = grid.finest_scale_map(gaze.slot_mask())
    canvas = blank_canvas(clips.shape[0], grid.canvas)
    rebuilt, targets = {}, {}
    for t in range(max(frames) + 1):
        target = to_canvas(torch.from_numpy(clips[:, t]), grid.canvas)
        canvas = paint(canvas, scale_views(target, grid), levels[:, t])
        rebuilt[t], targets[t] = canvas, target
    pred = torch.stack([rebuilt[t] for t in frames], 1).float()
    target = torch.stack([targets[t] for t in frames], 1).float()
    pred_u8, target_u8 = denormalize(pred), denormalize(target)
    return pred_u8, pred, metrics.l1(pred, target), metrics.psnr(pred_u8, target_u8), metrics.ssim(pred_u8, target_u8)


@pytest.mark.parametrize(
    "side, gazer, frames", [(224, "greedy", None), (160, "random", [5, 0, 2, 2]), (300, "greedy", [3])]
)
def test_the_paint_rebuild_equals_painting_every_view_and_measuring_all_frames_at_once(side, gazer, frames):
    clips = np.stack([np.roll(moving_square(6, side, side), 37 * s, axis=2) for s in range(3)])
    gaze = load_gazer(gazer).gaze(clips, gazing_ratio=0.2)
    wanted = list(range(6)) if frames is None else frames
    with torch.inference_mode():
        torch_threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as the reconstructor runs on CPU
        try:
            expected = _paint_all_at_once(clips, gaze, wanted)
        finally:
            torch.set_num_threads(torch_threads)
    rec = load_reconstructor("paint").reconstruct(clips, gaze, frames)
    for got, want in zip((rec.frames, rec.normalized, rec.loss, rec.psnr, rec.ssim), expected):
        assert torch.equal(got, want)


@pytest.mark.parametrize(
    "height, width, tile, overlap, size",
    [(2160, 3840, 448, 0, (720, 1280)), (100, 130, 40, 8, (None, None)), (300, 301, 64, 30, (33, 47))],
)
def test_frame_coverage_is_each_tiles_finest_scale_map_placed(height, width, tile, overlap, size):
    layout = tile_layout(height, width, tile, overlap)
    mask = torch.rand(layout.num_tiles, DEFAULT_GRID.num_slots, generator=torch.Generator().manual_seed(2)) < 0.2
    h, w = size[0] or height, size[1] or width
    expected = np.full((h, w), -1, np.int8)
    for k in range(layout.num_tiles):  # the per-tile map of `grid.finest_scale_map`, placed, finer wins
        top, left, bottom, right = layout.extent(k, h, w)
        tile_map = DEFAULT_GRID.finest_scale_map(mask[k], bottom - top, right - left).numpy()
        region = expected[top:bottom, left:right]
        np.maximum(region, tile_map[: region.shape[0], : region.shape[1]], out=region)
    np.testing.assert_array_equal(frame_coverage(mask, DEFAULT_GRID, layout, *size), expected)
