"""playground.training.scenes: generated training video from photographs (no downloads: made-up photos)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from playground.training import scenes
from playground.training.scenes import Scene, Sprite, draw_scene, render_scene, scene_clip


def _photo(seed: int, h: int = 300, w: int = 400) -> np.ndarray:
    """A made-up photo with detail at every scale (smooth gradients plus random blocks and fine noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x / w * 200, y / h * 200, (x + y) / (h + w) * 255], -1)
    blocks = np.kron(rng.uniform(0, 80, (h // 20 + 1, w // 20 + 1, 3)), np.ones((20, 20, 1)))[:h, :w]
    return np.clip(base + blocks + rng.normal(0, 10, (h, w, 3)), 0, 255).astype(np.uint8)


PHOTOS = {"a": _photo(0), "b": _photo(1, 256, 256), "c": _photo(2, 400, 300)}
STILL = Scene(photo="a", seed=3)  # no motion, no effects: every frame the same


def _render(**knobs) -> np.ndarray:
    return render_scene(replace(STILL, **knobs), PHOTOS, num_frames=8, size=96)


def test_shapes_dtype_and_determinism():
    a = scene_clip(5, PHOTOS)
    assert a.shape == (16, 224, 224, 3) and a.dtype == np.uint8
    assert np.array_equal(a, scene_clip(5, PHOTOS))
    assert not np.array_equal(a, scene_clip(6, PHOTOS))
    assert scene_clip(5, PHOTOS, num_frames=4, size=64).shape == (4, 64, 64, 3)


def test_draw_scene_is_deterministic_and_varied():
    drawn = [draw_scene(s, sorted(PHOTOS)) for s in range(60)]
    assert drawn[7] == draw_scene(7, sorted(PHOTOS))
    assert {d.background for d in drawn} == set(scenes.BACKGROUNDS)
    assert {d.compression for d in drawn} == set(scenes.COMPRESSIONS)
    assert len({d.stride for d in drawn}) > 3 and any(d.sprites for d in drawn)


def test_still_scene_repeats_its_frame():
    v = _render()
    assert all(np.array_equal(v[0], f) for f in v)


def test_pan_shifts_the_frame():
    v = _render(pan=(0.0, 3.0), view=0.5)
    # content moves left by 3 px a frame: frame 1 shifted back matches frame 0 away from the borders
    assert np.abs(v[1, :, 10:-10].astype(int) - v[0, :, 13:-7]).mean() < 2
    assert np.abs(v[1].astype(int) - v[0]).mean() > 5


def test_stride_multiplies_the_motion():
    one = _render(pan=(0.0, 2.0), stride=3)
    assert np.abs(one[1, :, 10:-10].astype(int) - one[0, :, 16:-4]).mean() < 2


def test_zoom_keeps_the_centre_and_moves_the_corners():
    v = _render(zoom=0.9)
    c = slice(44, 52)
    assert np.abs(v[3, c, c].astype(int) - v[0, c, c]).mean() < np.abs(v[3, :8, :8].astype(int) - v[0, :8, :8]).mean()
    assert np.abs(v[3].astype(int) - v[0]).mean() > 5


def test_rotation_turns_about_the_centre():
    v = _render(rotation=10.0)
    c = slice(45, 51)
    assert (
        np.abs(v[5, c, c].astype(int) - v[0, c, c]).mean()
        < 0.5 * np.abs(v[5, :8, :8].astype(int) - v[0, :8, :8]).mean()
    )
    assert np.abs(v[5].astype(int) - v[0]).mean() > 5
    # a quarter turn of the frame
    turned = render_scene(replace(STILL, angle=90.0), PHOTOS, num_frames=1, size=96)[0]
    assert min(np.abs(np.rot90(turned, k).astype(int) - _render()[0]).mean() for k in (1, -1)) < 3


def test_shake_moves_frames_without_drift():
    v = _render(shake=3.0)
    assert np.abs(v[1].astype(int) - v[0]).mean() > 1
    assert render_scene(replace(STILL, shake=3.0), PHOTOS, 8, 96).tobytes() == v.tobytes()


def test_sprite_occludes_only_where_it_is():
    sprite = Sprite(
        photo="b",
        crop=(0.5, 0.5, 0.4),
        lobes=(0.0, 0.0, 0.0, 0.0),
        aspect=1.0,
        side=30.0,
        start=(48.0, 20.0),
        velocity=(0.0, 6.0),
        spin=0.0,
        growth=1.0,
    )
    v, bg = _render(sprites=(sprite,)), _render()
    changed = np.abs(v.astype(int) - bg).sum(-1) > 30
    assert changed[0, 40:56, 12:28].mean() > 0.8 and not changed[0, :, 50:].any()
    ys, xs = np.nonzero(changed[4])
    assert abs(xs.mean() - (20 + 6 * 4)) < 3 and abs(ys.mean() - 48) < 3  # it moved 6 px a frame


def test_light_changes_brightness_not_structure():
    v = _render(gain=(1.0, 0.5)).astype(float)
    assert v[-1].mean() < 0.6 * v[0].mean()
    assert np.corrcoef(v[0].ravel(), v[-1].ravel())[0, 1] > 0.99
    tinted = _render(colour=(0.3, 0.0, -0.3)).astype(float)
    assert tinted[-1, ..., 0].mean() > tinted[0, ..., 0].mean() and tinted[-1, ..., 2].mean() < tinted[0, ..., 2].mean()
    flick = _render(flicker=0.2).astype(float).mean((1, 2, 3))
    assert flick.std() > 1


def test_noise_is_zero_mean_and_per_frame():
    v, bg = _render(noise=8.0).astype(float), _render().astype(float)
    diff = v - bg
    assert 5 < diff.std() < 20 and abs(diff.mean()) < 1
    assert not np.array_equal(v[0], v[1])


def _high_frequency(v: np.ndarray) -> float:
    return float(np.abs(np.diff(v.astype(float), axis=2)).mean())


def test_blur_removes_detail():
    sharp = _render()
    assert _high_frequency(_render(defocus=(2.0, 2.0))) < 0.6 * _high_frequency(sharp)
    moving = _render(pan=(0.0, 6.0))
    blurred = _render(pan=(0.0, 6.0), motion_blur=1.0)
    # motion along x smears along x, so x-differences drop more than y-differences
    dx = lambda v: np.abs(np.diff(v.astype(float), axis=2)).mean()  # noqa: E731
    dy = lambda v: np.abs(np.diff(v.astype(float), axis=1)).mean()  # noqa: E731
    assert dx(blurred) / dx(moving) < dy(blurred) / dy(moving)


@pytest.mark.parametrize("kind, quality", [("jpeg", 20), ("h264", 35)])
def test_compression_changes_pixels_a_little(kind, quality):
    bg = _render()
    v = _render(compression=kind, quality=quality)
    err = np.abs(v.astype(float) - bg).mean()
    assert v.shape == bg.shape and 0.5 < err < 20
    assert np.array_equal(v, _render(compression=kind, quality=quality))


def test_cartoon_is_flat_and_mosaic_is_busy():
    image = torch.from_numpy(PHOTOS["a"]).permute(2, 0, 1).float()
    flat = scenes.cartoon(image, levels=4)
    assert len(torch.unique(flat[0])) <= 8  # 4 levels and their darkened outlines
    busy = _render(background="mosaic", mosaic_photos=("b", "c", "a"))
    assert _high_frequency(busy) > _high_frequency(_render())
