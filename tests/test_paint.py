"""The paint reconstructor: exactness with every finest patch, monotone quality, layering rules."""

import pytest
import torch

from playground import GazeResult, PlaygroundError, load_gazer, load_reconstructor
from playground.painting import scale_views
from playground.pixels import to_canvas


def test_every_finest_patch_is_exact(example_clip):
    gaze = load_gazer("full").gaze(example_clip)
    rec = load_reconstructor("paint").reconstruct(example_clip, gaze)
    assert rec.frames.shape == (1, 16, 224, 224, 3)
    assert (rec.psnr >= 40).all()
    assert (rec.loss < 1e-3).all()
    assert (rec.ssim > 0.99).all()


def test_more_slots_rebuild_better(example_clip):
    paint, clip = load_reconstructor("paint"), example_clip[:8]  # 8 frames are enough to order three budgets
    psnr = [
        float(paint.reconstruct(clip, load_gazer("greedy").gaze(clip, gazing_ratio=r)).psnr.mean())
        for r in (0.02, 0.1, 0.3)
    ]
    assert psnr[0] < psnr[1] < psnr[2]


def test_finer_patches_paint_over_coarser(synthetic_clip):
    clip = synthetic_clip[:1]
    # Slot 0 is the top-left 112x112 coarse patch; slot 69 the top-left 16x16 finest patch.
    coarse_only = GazeResult.from_frame_slots([[[0]]])
    both = GazeResult.from_frame_slots([[[0, 69]]])
    paint = load_reconstructor("paint")
    a, b = paint.reconstruct(clip, coarse_only), paint.reconstruct(clip, both)
    target = to_canvas(torch.from_numpy(clip[None, :1]), 224)[0, 0]
    assert torch.allclose(b.normalized[0, 0, :, :16, :16], target[:, :16, :16], atol=1e-5)
    assert torch.equal(a.normalized[0, 0, :, 16:112, 16:112], b.normalized[0, 0, :, 16:112, 16:112])
    assert torch.equal(a.normalized[0, 0, :, 112:, :], b.normalized[0, 0, :, 112:, :])  # untouched: grey


def test_scale_views_are_patch_local(synthetic_clip):
    # Two frames that differ only beyond x, y >= 120 give the same 32-px image inside coarse
    # patch 0 (the antialiased downsample reaches 7 px past the box); its pasted view, covering
    # the 112x112 box, must then be identical: no bleeding from the neighbouring patches.
    a = synthetic_clip[:1].copy()
    b = a.copy()
    b[:, 120:, :] = 0
    b[:, :, 120:] = 255
    grid = load_gazer("greedy").grid
    va, vb = (scale_views(to_canvas(torch.from_numpy(x), 224), grid) for x in (a, b))
    assert torch.equal(va[:, 0, :, :112, :112], vb[:, 0, :, :112, :112])
    assert not torch.equal(va[:, 0, :, 112:, 112:], vb[:, 0, :, 112:, 112:])


def test_mismatched_gaze_is_one_line_error(synthetic_clip):
    gaze = load_gazer("random").gaze(synthetic_clip[:4], gazing_ratio=0.1)
    with pytest.raises(PlaygroundError) as err:
        load_reconstructor("paint").reconstruct(synthetic_clip, gaze)
    assert "4 frames" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(PlaygroundError):
        load_reconstructor("paint").reconstruct(synthetic_clip[:4], gaze, frames=[7])


def test_prepared_frames_rebuild_as_unprepared(example_clip):
    """`prepare` (the clip's frames on the canvas, made once for the app's rebuilds at several thresholds) changes no
    pixel and no measure of a rebuild, its size is what `prepared_nbytes` says, and another clip's are refused."""
    paint, clip = load_reconstructor("paint"), example_clip[:4]
    prepared = paint.prepare(clip)
    assert paint.prepared_nbytes(clip.shape) == sum(p.nbytes for p in prepared)
    for ratio in (0.02, 0.3):
        gaze = load_gazer("greedy").gaze(clip, gazing_ratio=ratio)
        alone, shared = paint.reconstruct(clip, gaze), paint.reconstruct(clip, gaze, prepared=prepared)
        for name in ("frames", "normalized", "loss", "psnr", "ssim"):
            assert torch.equal(getattr(alone, name), getattr(shared, name)), name
    with pytest.raises(PlaygroundError, match="prepared frames"):
        paint.reconstruct(clip[:3], load_gazer("full").gaze(clip[:3]), prepared=prepared)
