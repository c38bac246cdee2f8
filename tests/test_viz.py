"""Visualisation: overlays coloured by scale on the original frames, panels, gaze order, plotly figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground import GazeResult, MultiScaleGrid, load_gazer, load_reconstructor
from playground.errors import PlaygroundError
from playground.viz import (
    DIM,
    SCALE_COLORS,
    coverage_image,
    drawable,
    fig_gaze_loss,
    fig_gaze_slots,
    fig_gazer_comparison,
    fig_loss_per_frame,
    fig_psnr_per_frame,
    fig_slots_per_frame,
    fig_threshold_curve,
    gaze_order_image,
    overlay_frames,
    pixel_scales,
    scale_legend,
    side_by_side,
)

GRID = MultiScaleGrid()


def grey(T=2, H=90, W=160, value=200) -> np.ndarray:
    return np.full((T, H, W, 3), value, np.uint8)


def gaze_of(slots_per_frame, grid=GRID) -> GazeResult:
    return GazeResult.from_frame_slots([slots_per_frame], grid)


def test_full_gaze_colours_every_pixel_in_the_finest_scale():
    frames = grey()
    gaze = gaze_of([list(GRID.finest_slots)] * 2)
    out = overlay_frames(frames, gaze, alpha=0.5, outline=False)
    expected = np.round(200 * 0.5 + np.array(SCALE_COLORS[3]) * 0.5)
    assert np.all(out == expected.astype(np.uint8))


def test_empty_frame_stays_dimmed_and_only_gazed_area_is_coloured():
    frames = grey()
    gaze = gaze_of([[], [0]])  # frame 1: the top-left coarse (32 px scale) slot only
    out = overlay_frames(frames, gaze, alpha=0.5, outline=False)
    dimmed = np.uint8(round(200 * DIM))
    assert np.all(out[0] == dimmed)
    # slot 0 covers the top-left quarter of the canvas, so the top-left quarter of the 90x160 frame.
    coloured = np.round(200 * 0.5 + np.array(SCALE_COLORS[0]) * 0.5).astype(np.uint8)
    assert np.all(out[1, :45, :80] == coloured)
    assert np.all(out[1, 45:] == dimmed) and np.all(out[1, :, 80:] == dimmed)


def test_finer_scale_wins_and_outlines_follow_boxes():
    frames = grey(1, 224, 224)
    fine = GRID.offsets[3]  # the first finest slot: canvas box (0, 0, 16, 16)
    gaze = gaze_of([[0, fine]])
    finest, outline = pixel_scales(gaze.slot_mask()[0], GRID, 224, 224, line=1)
    assert np.all(finest[0, :16, :16] == 3) and np.all(finest[0, 16:112, 16:112] == 0)
    assert np.all(finest[0, 112:] == -1)
    assert np.all(outline[0, 0, :16] == 3) and outline[0, 8, 8] == -1  # box edge vs interior
    assert np.all(outline[0, 111, 16:112] == 0) and outline[0, 50, 50] == -1
    out = overlay_frames(frames, gaze, outline=True)
    assert tuple(out[0, 0, 5]) == SCALE_COLORS[3] and tuple(out[0, 111, 50]) == SCALE_COLORS[0]


def test_overlay_on_real_gaze_matches_slot_mask(synthetic_clip):
    frames = synthetic_clip[:4]
    gaze = load_gazer("random").gaze(frames, gazing_ratio=0.2)
    out = overlay_frames(frames, gaze, outline=False)
    assert out.shape == frames.shape and out.dtype == np.uint8
    cover = GRID.finest_scale_map(gaze.slot_mask()[0]).numpy()  # (T, 224, 224) on the canvas = frame size here
    expected_dim = np.round(frames.astype(np.float32) * np.float32(DIM)).astype(np.uint8)
    np.testing.assert_array_equal(out[cover < 0], expected_dim[cover < 0])
    assert not np.array_equal(out[cover >= 0], expected_dim[cover >= 0])
    np.testing.assert_array_equal(coverage_image(gaze)[cover < 0], 0)


def test_overlay_checks_inputs():
    gaze = gaze_of([[0], [1]])
    with pytest.raises(PlaygroundError):
        overlay_frames(grey(3), gaze)  # 3 frames, gaze of 2
    with pytest.raises(PlaygroundError):
        overlay_frames(grey().astype(np.float32), gaze)
    assert overlay_frames(grey()[None], gaze).shape == (2, 90, 160, 3)  # a (B, T, H, W, 3) batch


def test_other_grids():
    grid = MultiScaleGrid((64, 128, 224, 448), 16)
    gaze = gaze_of([list(grid.finest_slots)], grid)
    out = overlay_frames(grey(1, 100, 100), gaze, alpha=1.0, outline=False)
    assert np.all(out == np.array(SCALE_COLORS[3], np.uint8))
    assert len(scale_legend(grid)) == 4 and scale_legend(GRID)[0] == (
        "32 px: 2×2 = 4 tokens, each covering 112×112 of the 224 px frame",
        SCALE_COLORS[0],
    )


def test_side_by_side_resizes_and_labels():
    a, b = grey(3, 90, 160, 10), grey(3, 224, 224, 10)
    out = side_by_side(a, b, labels=["original", "rebuilt"], gap=4)
    assert out.shape == (3, 224, round(160 * 224 / 90) + 4 + 224, 3)
    assert out[:, :14, :60].max() > 200  # white label text on the dark frames
    assert out[:, 100:, :].max() <= 24  # nothing drawn below the labels
    single = side_by_side(a, grey(1, 90, 90, 10)[0])  # an image is repeated over time
    assert single.shape[0] == 3
    with pytest.raises(PlaygroundError):
        side_by_side(grey(3), grey(2))


def test_gaze_order_image_draws_numbers():
    frame = grey(1, 224, 224, 120)[0]
    gaze = gaze_of([[0, 100, 200]])
    numbered = gaze_order_image(frame, gaze, 0)
    plain = overlay_frames(frame[None], gaze, alpha=0.45)[0]
    assert numbered.shape == frame.shape
    assert np.abs(numbered.astype(int) - plain).max() > 100  # the labels changed some pixels


def test_figures_have_the_right_traces():
    gaze = gaze_of([[0, 5, 30], list(range(69, 100))])
    fig = fig_gaze_slots(gaze)
    assert [t.type for t in fig.data] == ["bar"] * 4 and fig.layout.barmode == "stack"
    stacked = np.sum([np.asarray(t.y) for t in fig.data], axis=0)
    np.testing.assert_array_equal(stacked, gaze.counts()[0].numpy())
    assert list(fig.data[0].y) == [1, 0] and list(fig.data[3].y) == [0, 31]

    predicted = GazeResult(
        gaze.gazing_pos,
        gaze.if_padded_gazing,
        gaze.num_gazing_each_frame,
        frame_loss=torch.tensor([[0.5, 0.3]]),
        loss_kind="predicted",
        settings={"task_loss_requirement": 0.4},
    )
    fig = fig_gaze_loss(predicted)
    assert [t.name for t in fig.data] == ["predicted loss (gazer)"] and fig.layout.shapes[0].y0 == 0.4
    assert fig_gaze_loss(gaze).data == ()  # no loss trace to show

    curve = fig_threshold_curve([0.1, 0.5, 1.0], [0.8, 0.4, 0.1], psnr=[35, 28, 22])
    assert list(curve.data[0].y) == pytest.approx([80, 40, 10]) and curve.data[1].yaxis == "y2"
    rows = [{"gazer": "greedy", "kept_fraction": 0.1, "psnr": 30.0}, {"gazer": "full", "kept_fraction": 0.74}]
    bars = fig_gazer_comparison(rows)
    assert list(bars.data[0].x) == ["greedy", "full"] and list(bars.data[1].y) == [30.0, None]


def test_per_frame_figures_from_arrays():
    slots = fig_slots_per_frame([4, 5], [[1, 2], [0, 3]], [32, 64], of=20, tiles=3)
    assert [t.name for t in slots.data] == ["32 px", "64 px"] and list(slots.data[1].y) == [2, 3]
    assert slots.layout.title.text == "Gazed slots per frame (3 tiles, of 20)"
    loss = fig_loss_per_frame(
        [4, 5],
        [0.2, 0.9],
        [30.0, float("inf")],
        own=[0.1, None],
        gazer="g",
        reconstructor="r",
        threshold=0.5,
        flagged=[5],
        suffix=", mean over tiles",
    )
    names = [t.name for t in loss.data]
    assert names == [
        "predicted loss (g), mean over tiles",
        "measured loss (r), mean over tiles",
        "measured over the threshold by > 25 %",
        "PSNR (dB)",
    ]
    assert list(loss.data[2].x) == [5] and list(loss.data[3].y) == [30.0, None]  # inf dB is not drawn
    one = fig_loss_per_frame([0, 1], [0.2, 0.3], own=[0.2, 0.3], own_kind="measured", gazer="g", reconstructor="r")
    assert [t.name for t in one.data] == ["measured loss (r = g's own trace)"]
    quality = fig_psnr_per_frame([0, 1], [float("inf"), float("inf")], [1.0, 1.0])
    assert quality.data[1].yaxis == "y2" and "every frame is rebuilt exactly" in quality.layout.annotations[0].text
    with pytest.raises(PlaygroundError):
        fig_slots_per_frame([0], [[1, 2]], [32], of=4)


def test_loss_figure_with_a_reconstruction(synthetic_clip):
    frames = synthetic_clip[:3]
    gaze = load_gazer("full").gaze(frames)
    rec = load_reconstructor("paint").reconstruct(frames, gaze)
    fig = fig_gaze_loss(gaze, rec)
    names = [t.name for t in fig.data]
    assert names[-2:] == ["measured loss (paint)", "PSNR (dB)"]
    assert list(fig.data[-1].y) == drawable(rec.psnr[0].tolist())  # exact frames (inf dB) are not drawn
    assert fig.data[-1].yaxis == "y2"
