"""Synthetic videos made in code (free to redistribute, no files to ship).

- `moving_square`: colour ramps with a bright square moving diagonally; the input the reference
  vectors were made with (AUTOGAZE_SPEC.md section 4.2), so tests, notebooks and benchmarks can
  rebuild it exactly instead of shipping arrays.
- `random_scene`: a seeded scene for training gazers: a textured background that pans, with a
  few flat and striped shapes moving across it at their own speeds.
- the app's gallery (`GALLERY`): `static_camera`, `fast_pan`, `flat_cartoon`, `dense_texture`, scenes where
  gazing saves most and least, written to `assets/` by `assets/make_assets.py`.
"""

from __future__ import annotations

import numpy as np

from .knobs import CLIP_LEN


def moving_square(num_frames: int = CLIP_LEN, height: int = 224, width: int = 224) -> np.ndarray:
    """uint8 (T, H, W, 3): R ramps left to right, G top to bottom, B constant; a 32 px white square moves 8 px/frame."""
    y = np.arange(height, dtype=np.float64)[:, None]
    x = np.arange(width, dtype=np.float64)[None, :]
    background = np.stack(
        [40 + 120 * x / (width - 1) + 0 * y, 40 + 120 * y / (height - 1) + 0 * x, 100 + 0 * x + 0 * y], axis=-1
    )
    video = np.empty((num_frames, height, width, 3), np.uint8)
    for t in range(num_frames):
        frame = background.copy()
        r0 = c0 = 16 + 8 * t
        frame[r0 : r0 + 32, c0 : c0 + 32, :] = 250.0
        video[t] = np.round(frame).astype(np.uint8)
    return video


def random_scene(seed: int, num_frames: int = CLIP_LEN, size: int = 224) -> np.ndarray:
    """uint8 (T, size, size, 3): a seeded panning texture with 2-5 moving shapes (training data)."""
    rng = np.random.default_rng(seed)
    big = size * 2
    # Background: smooth colour blobs plus fine noise in some regions, so detail varies in space.
    low = rng.uniform(20, 230, size=(6, 6, 3))
    yy, xx = np.meshgrid(np.linspace(0, 5, big), np.linspace(0, 5, big), indexing="ij")
    y0, x0 = np.floor(yy).astype(int).clip(0, 4), np.floor(xx).astype(int).clip(0, 4)
    fy, fx = (yy - y0)[..., None], (xx - x0)[..., None]
    bg = (
        (1 - fy) * (1 - fx) * low[y0, x0]
        + fy * (1 - fx) * low[y0 + 1, x0]
        + (1 - fy) * fx * low[y0, x0 + 1]
        + fy * fx * low[y0 + 1, x0 + 1]
    )
    detail = rng.uniform(0, 1, size=(big // 32, big // 32)) > 0.6
    bg += np.kron(detail, np.ones((32, 32)))[..., None] * rng.normal(0, 40, size=(big, big, 1))
    pan = rng.uniform(-3, 3, size=2)
    shapes = [
        (
            rng.uniform(0, size, 2),
            rng.uniform(-6, 6, 2),
            rng.integers(12, size // 3),
            rng.uniform(0, 255, 3),
            rng.integers(0, 3),
        )
        for _ in range(rng.integers(2, 6))
    ]
    video = np.empty((num_frames, size, size, 3), np.uint8)
    ys, xs = np.mgrid[0:size, 0:size]
    for t in range(num_frames):
        oy, ox = (size // 2 + pan * t).astype(int).clip(0, big - size)
        frame = bg[oy : oy + size, ox : ox + size].copy()
        for (py, px), (vy, vx), side, colour, kind in shapes:
            cy, cx = py + vy * t, px + vx * t
            inside = (np.abs(ys - cy) < side / 2) & (np.abs(xs - cx) < side / 2)
            if kind == 1:  # a disc
                inside = (ys - cy) ** 2 + (xs - cx) ** 2 < (side / 2) ** 2
            if kind == 2:  # stripes: fine detail that costs patches
                inside &= ((xs - cx) // 3).astype(int) % 2 == 0
            frame[inside] = colour
        video[t] = np.clip(frame, 0, 255).astype(np.uint8)
    return video


# ---- the app's gallery: one scene per case where gazing saves most or least ---------------------------------
def _smooth_field(rng: np.random.Generator, height: int, width: int, cells: int = 6) -> np.ndarray:
    """float (H, W, 3): colour blobs, bilinear between a `cells` x `cells` grid of random colours."""
    low = rng.uniform(30, 220, size=(cells + 1, cells + 1, 3))
    yy, xx = np.meshgrid(np.linspace(0, cells, height), np.linspace(0, cells, width), indexing="ij")
    y0, x0 = np.floor(yy).astype(int).clip(0, cells - 1), np.floor(xx).astype(int).clip(0, cells - 1)
    fy, fx = (yy - y0)[..., None], (xx - x0)[..., None]
    return (
        (1 - fy) * (1 - fx) * low[y0, x0]
        + fy * (1 - fx) * low[y0 + 1, x0]
        + (1 - fy) * fx * low[y0, x0 + 1]
        + fy * fx * low[y0 + 1, x0 + 1]
    )


def static_camera(num_frames: int = CLIP_LEN, size: int = 224, seed: int = 1) -> np.ndarray:
    """uint8 (T, size, size, 3): a still, smooth background with one small ball crossing it (gazing saves most:
    after frame 0 only the ball's patches change)."""
    rng = np.random.default_rng(seed)
    bg = _smooth_field(rng, size, size)
    ys, xs = np.mgrid[0:size, 0:size]
    video = np.empty((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        frame = bg.copy()
        cy, cx = size * 0.6, 20 + t * (size - 40) / max(num_frames - 1, 1)
        frame[(ys - cy) ** 2 + (xs - cx) ** 2 < 12**2] = (230, 60, 40)
        video[t] = np.clip(frame, 0, 255).astype(np.uint8)
    return video


def fast_pan(num_frames: int = CLIP_LEN, size: int = 224, seed: int = 2, step: int = 14) -> np.ndarray:
    """uint8 (T, size, size, 3): a camera panning `step` px a frame over a detailed scene (gazing saves least
    among natural motions: every patch changes every frame)."""
    rng = np.random.default_rng(seed)
    width = size + step * num_frames
    scene = _smooth_field(rng, size, width, cells=12)
    scene += rng.normal(0, 18, size=(size, width, 1))  # fine grain, so a shift shows everywhere
    video = np.empty((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        video[t] = np.clip(scene[:, t * step : t * step + size], 0, 255).astype(np.uint8)
    return video


def flat_cartoon(num_frames: int = CLIP_LEN, size: int = 224) -> np.ndarray:
    """uint8 (T, size, size, 3): flat colours with dark outlines, two shapes moving (large flat areas cost few
    patches: coarse scales rebuild them)."""
    ys, xs = np.mgrid[0:size, 0:size]
    sky = ys < size * 0.6
    video = np.empty((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        frame = np.where(sky[..., None], np.array([120, 190, 240]), np.array([90, 170, 70])).astype(np.float64)
        sun = (ys - 40) ** 2 + (xs - (170 - t)) ** 2
        frame[sun < 22**2] = (250, 220, 60)
        cx = 30 + 9 * t
        body = (np.abs(ys - 150) < 20) & (np.abs(xs - cx) < 28)
        outline = (np.abs(ys - 150) < 23) & (np.abs(xs - cx) < 31) & ~body
        frame[body], frame[outline] = (220, 80, 160), (20, 20, 20)
        video[t] = frame.astype(np.uint8)
    return video


def dense_texture(num_frames: int = CLIP_LEN, size: int = 224, seed: int = 4) -> np.ndarray:
    """uint8 (T, size, size, 3): fine random texture that flickers a little every frame (the hardest case:
    every fine patch carries detail and changes, so a budget loses most here)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 255, size=(size // 2, size // 2, 3)).repeat(2, 0).repeat(2, 1)
    video = np.empty((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        video[t] = np.clip(base + rng.normal(0, 25, size=base.shape), 0, 255).astype(np.uint8)
    return video


# file name in assets/ -> (what it shows, the function that makes it)
GALLERY = {
    "static_camera.mp4": ("static camera: one small ball moves, gazing saves most", static_camera),
    "fast_pan.mp4": ("fast pan: every patch changes every frame", fast_pan),
    "flat_cartoon.mp4": ("flat cartoon: large flat areas, coarse scales suffice", flat_cartoon),
    "dense_texture.mp4": ("dense texture: fine detail everywhere, gazing saves least", dense_texture),
}
