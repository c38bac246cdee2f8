"""Pictures of a gaze: overlays coloured by scale, side-by-side panels, gaze order, plotly figures.

Gazers squash every frame onto a canvas x canvas square (`grid.canvas`, 224 by default), so a
slot's canvas box maps to the original frame by scaling y by H/canvas and x by W/canvas. The
overlays here draw on the ORIGINAL frames that way. Each pixel takes the colour of the finest
scale that gazed it; pixels no slot covers are dimmed.

Colours come from the Okabe-Ito palette (distinguishable with the common colour-vision
deficiencies), coarsest scale first.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from .errors import check
from .gaze import GazeResult, as_gaze_result
from .geometry import MultiScaleGrid

# Okabe-Ito colours, coarsest scale first; grids with more scales cycle through the rest.
SCALE_COLORS: tuple[tuple[int, int, int], ...] = (
    (0, 114, 178),  # blue
    (0, 158, 115),  # bluish green
    (240, 228, 66),  # yellow
    (213, 94, 0),  # vermillion
    (86, 180, 233),  # sky blue
    (230, 159, 0),  # orange
    (204, 121, 167),  # reddish purple
)
DIM = 0.35  # brightness kept where no slot was gazed


def scale_color(scale_index: int) -> tuple[int, int, int]:
    """RGB colour of one scale (0 = coarsest)."""
    return SCALE_COLORS[scale_index % len(SCALE_COLORS)]


def scale_legend(grid: MultiScaleGrid) -> list[tuple[str, tuple[int, int, int]]]:
    """One (label, RGB) per scale, coarsest first, e.g. ("32 px: 4 slots of 56 px", (0, 114, 178)).

    Box sizes are in canvas pixels.
    """
    return [(f"{s} px: {n} slots of {grid.box_size(i):g} px", scale_color(i))
            for i, (s, n) in enumerate(zip(grid.scales, grid.counts))]


def scale_legend_html(grid: MultiScaleGrid) -> str:
    """The legend as one line of HTML swatches (for the app)."""
    items = [f'<span style="display:inline-block;width:0.9em;height:0.9em;background:rgb{c};'
             f'margin:0 0.3em 0 0.8em;vertical-align:middle"></span>{label}' for label, c in scale_legend(grid)]
    return "".join(items)


# ---- overlays -------------------------------------------------------------------------------


def _cell_index(length: int, canvas: int, side: int) -> np.ndarray:
    """(length,) row (or column) of a `side`-cell grid under each frame pixel, matching grid.boxes rounding."""
    canvas_pos = np.minimum(((np.arange(length) + 0.5) * canvas / length).astype(np.int64), canvas - 1)
    edges = np.round(np.arange(side + 1) * canvas / side)
    return np.searchsorted(edges, canvas_pos, side="right") - 1


def _border(cells: np.ndarray, width: int) -> np.ndarray:
    """(length,) bool: pixels within `width` of a cell edge."""
    change = np.zeros(len(cells), dtype=bool)
    step = np.flatnonzero(np.diff(cells)) + 1  # first pixel of each new cell
    for k in range(width):
        change[np.clip(step + k, 0, len(cells) - 1)] = True
        change[np.clip(step - 1 - k, 0, len(cells) - 1)] = True
    change[:width] = True
    change[-width:] = True
    return change


def scale_maps(slot_mask: torch.Tensor | np.ndarray, grid: MultiScaleGrid, height: int, width: int,
               line: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel finest gazed scale, and box outlines, at a frame's resolution.

    Args:
        slot_mask: (T, S) bool, which slots of each frame were gazed.
        grid: the slot layout.
        height, width: frame size H, W.
        line: outline width in pixels (0 = no outlines).

    Returns:
        finest: int (T, H, W) index of the finest gazed scale per pixel, -1 if none.
        outline: int (T, H, W) scale whose box outline passes there (finest on top), -1 if none.
    """
    mask = np.asarray(torch.as_tensor(slot_mask).cpu(), dtype=bool)
    T = mask.shape[0]
    finest = np.full((T, height, width), -1, dtype=np.int64)
    outline = np.full((T, height, width), -1, dtype=np.int64)
    for s, side in enumerate(grid.sides):
        cells = mask[:, grid.scale_slice(s)].reshape(T, side, side)
        rows, cols = _cell_index(height, grid.canvas, side), _cell_index(width, grid.canvas, side)
        covered = cells[:, rows][:, :, cols]  # (T, H, W)
        finest[covered] = s
        if line:
            edge = _border(rows, line)[:, None] | _border(cols, line)[None, :]
            outline[covered & edge[None]] = s
    return finest, outline


def _palette(num_scales: int) -> np.ndarray:
    return np.array([scale_color(i) for i in range(num_scales)], dtype=np.float32)


def overlay_frames(frames: np.ndarray | torch.Tensor, gaze: GazeResult | dict, clip: int = 0, alpha: float = 0.45,
                   outline: bool = True, dim: float = DIM) -> np.ndarray:
    """Draw the gazed patches of each frame over the original frames, coloured by scale.

    Args:
        frames: uint8 (T, H, W, 3) original frames (any size; the canvas is squashed onto them),
            or (B, T, H, W, 3), from which `clip` is taken.
        gaze: the gaze of these frames (T must match).
        clip: which clip of the gaze (and of a batched `frames`) to draw.
        alpha: opacity of the scale colour over gazed pixels.
        outline: draw the outline of every gazed box in its scale colour.
        dim: brightness kept where nothing was gazed.

    Returns:
        uint8 (T, H, W, 3).
    """
    frames = _frames(frames, clip)
    gaze = as_gaze_result(gaze)
    check(0 <= clip < gaze.batch_size, f"clip {clip} is outside the gaze's {gaze.batch_size} clips")
    T, H, W = frames.shape[:3]
    check(gaze.num_frames == T, f"the gaze covers {gaze.num_frames} frames but {T} frames were given")
    line = max(1, round(min(H, W) / 360)) if outline else 0
    finest, edges = scale_maps(gaze.slot_mask()[clip], gaze.grid, H, W, line)
    colors = _palette(gaze.grid.num_scales)
    out = frames.astype(np.float32) * dim
    gazed = finest >= 0
    out[gazed] = frames[gazed] * (1 - alpha) + colors[finest[gazed]] * alpha
    drawn = edges >= 0
    out[drawn] = colors[edges[drawn]]
    return np.round(out).clip(0, 255).astype(np.uint8)


def coverage_image(gaze: GazeResult | dict, clip: int = 0, size: int | None = None) -> np.ndarray:
    """uint8 (T, size, size, 3) map of the canvas: each pixel in its finest gazed scale's colour, black if none."""
    gaze = as_gaze_result(gaze)
    size = size or gaze.grid.canvas
    finest, _ = scale_maps(gaze.slot_mask()[clip], gaze.grid, size, size)
    colors = np.concatenate([np.zeros((1, 3), np.float32), _palette(gaze.grid.num_scales)])
    return colors[finest + 1].astype(np.uint8)


def _frames(frames: Any, clip: int = 0) -> np.ndarray:
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    check(isinstance(frames, np.ndarray) and frames.dtype == np.uint8, "frames must be a uint8 array")
    if frames.ndim == 5:
        check(0 <= clip < frames.shape[0], f"clip {clip} is outside the {frames.shape[0]} clips given")
        frames = frames[clip]
    if frames.ndim == 3:
        frames = frames[None]
    check(frames.ndim == 4 and frames.shape[-1] == 3, f"frames must be (T,H,W,3), got shape {tuple(frames.shape)}")
    return frames
