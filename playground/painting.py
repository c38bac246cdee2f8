"""Painting primitives: what each scale's patches show on the canvas, and pasting them over the last frame.

`paint` (the reconstructor) rebuilds frames with these, and the `greedy` and `framediff` gazers
use the same rules to measure the loss of what they keep, so a gazer's measured trace equals the
reconstructor's loss. A patch at scale s is the frame downsampled to s x s, cut into patches, and
each patch upsampled on its own back to its canvas box; coarse patches go first and finer ones over
them. Frame 0 starts from a neutral grey canvas.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import check
from .geometry import MultiScaleGrid
from .metrics import l1
from .pixels import normalize, resize


def blank_canvas(batch: int, canvas: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(B, 3, canvas, canvas) neutral grey (uint8 128) in normalised space: the canvas before frame 0."""
    grey = torch.full((batch, canvas, canvas, 3), 128, dtype=torch.uint8, device=device)
    return normalize(grey)


def check_paintable(grid: MultiScaleGrid) -> None:
    """Every scale's slot boxes must be whole pixels of the canvas."""
    for side in grid.sides:
        check(
            grid.canvas % side == 0,
            f"{grid.describe()} cannot be painted: {side} patches per side do not divide {grid.canvas} px",
        )


def scale_views(frames: torch.Tensor, grid: MultiScaleGrid) -> torch.Tensor:
    """What each scale's patches show, pasted on the canvas.

    Args:
        frames: (N, 3, C, C) normalised frames at the canvas size C = grid.canvas.

    Returns:
        (N, S, 3, C, C): view s is the frame as scale s's patches would paint it everywhere.
    """
    N, p, C = frames.shape[0], grid.patch_size, grid.canvas
    views = []
    for scale, n in zip(grid.scales, grid.sides):
        box = C // n
        small = resize(frames, scale)  # (N, 3, scale, scale), antialiased when shrinking
        if box == p:
            views.append(small)
            continue
        patches = small.reshape(N, 3, n, p, n, p).permute(0, 2, 4, 1, 3, 5).reshape(N * n * n, 3, p, p)
        # Each patch is upsampled alone so that its paste uses only its own pixels.
        up = F.interpolate(patches, size=(box, box), mode="bilinear", align_corners=False)
        views.append(up.reshape(N, n, n, 3, box, box).permute(0, 3, 1, 4, 2, 5).reshape(N, 3, C, C))
    return torch.stack(views, dim=1)


def paint(previous: torch.Tensor, views: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """Paste views over the previous canvas.

    Args:
        previous: (N, 3, C, C) last reconstruction.
        views: (N, S, 3, C, C) from `scale_views`.
        level: (N, C, C) int64 finest gazed scale index per pixel, -1 where nothing was gazed.

    Returns:
        (N, 3, C, C) the new reconstruction.
    """
    picked = views.gather(1, level.clamp(min=0)[:, None, None].expand(-1, 1, 3, -1, -1))[:, 0]
    return torch.where((level >= 0)[:, None], picked, previous)


def paint_gazed(
    previous: torch.Tensor, frames: torch.Tensor, level: torch.Tensor, grid: MultiScaleGrid
) -> torch.Tensor:
    """`paint(previous, scale_views(frames, grid), level)`, computing only the patches that show.

    A scale's view is made only where `level` picks it, and a coarse scale's patches are upsampled
    only where one of their pixels shows (each patch is upsampled alone, so the pixels are the same).
    The reconstructor's per-frame step; gazers that score every patch use `scale_views` and `paint`.

    Args:
        previous: (N, 3, C, C) last reconstruction.
        frames: (N, 3, C, C) normalised frames at the canvas size C = grid.canvas.
        level: (N, C, C) int64 finest gazed scale index per pixel, -1 where nothing was gazed.

    Returns:
        (N, 3, C, C) the new reconstruction.
    """
    N, p, C = frames.shape[0], grid.patch_size, grid.canvas
    out = previous
    for s, (scale, n) in enumerate(zip(grid.scales, grid.sides)):
        shows = level == s  # (N, C, C)
        box = C // n
        cells = shows.reshape(N, n, box, n, box).any(4).any(2)  # (N, n, n): patches with a pixel showing
        if not bool(cells.any()):
            continue
        small = resize(frames, scale)  # (N, 3, scale, scale), antialiased when shrinking
        if box == p:
            out = torch.where(shows[:, None], small, out)
            continue
        out = out.clone() if out is previous else out
        b, i, j = cells.nonzero(as_tuple=True)
        patches = small.reshape(N, 3, n, p, n, p).permute(0, 2, 4, 1, 3, 5)[b, i, j]  # (M, 3, p, p)
        up = F.interpolate(patches, size=(box, box), mode="bilinear", align_corners=False)
        region = out.view(N, 3, n, box, n, box).permute(0, 2, 4, 1, 3, 5)  # (N, n, n, 3, box, box) view of out
        mask = shows.view(N, n, box, n, box).permute(0, 1, 3, 2, 4)[b, i, j]  # (M, box, box)
        region[b, i, j] = torch.where(mask[:, None], up, region[b, i, j])
    return out


class PaintMeter:
    """The `paint` rebuild of a batch of clips, measured slot by slot as a gazer adds them (the measured stop).

    Frame by frame: `start(frames)` with the frame's normalised canvas-size targets, `add(b, slot)` to
    paste one slot of clip b as `paint` does (a pixel shows the finest gazed scale over it), `loss(b)`
    for clip b's paint loss now, and `finish()` to keep the rebuilt frame as the next frame's start.
    The canvas is the reconstructor's pixel for pixel (`paint` of `scale_views`), and the loss is
    `metrics.l1` of it, as `paint` measures it: a frame that stops at `loss(b) <= t` is rebuilt by
    `paint` at a loss <= t. Each `loss` after an `add` is one measure of the whole frame (a "paint").
    """

    def __init__(self, grid: MultiScaleGrid, batch: int, device: torch.device | str = "cpu"):
        check_paintable(grid)
        self.grid, self.device = grid, torch.device(device)
        sides = torch.tensor(grid.sides)
        self.slot_scale = torch.repeat_interleave(torch.arange(grid.num_scales), sides * sides).tolist()
        self.slot_boxes = grid.boxes(torch.arange(grid.num_slots).numpy()).tolist()  # (num_slots, 4) y0, x0, y1, x1
        self.canvas = blank_canvas(batch, grid.canvas, self.device)  # the rebuild so far
        self.paints = 0  # losses measured after a paste
        self._loss: list[float | None] = [None] * batch

    def start(self, frames: torch.Tensor) -> None:
        """Begin a frame: (B, 3, C, C) normalised targets; nothing gazed yet (the last rebuild shows)."""
        self.target = frames.contiguous()
        self.views = scale_views(self.target, self.grid)  # (B, S, 3, C, C)
        self.level = torch.full(
            (frames.shape[0], self.grid.canvas, self.grid.canvas), -1, dtype=torch.long, device=self.device
        )
        self.canvas = self.canvas.clone(memory_format=torch.contiguous_format)  # reduced in the order paint reduces it
        self._loss = [None] * frames.shape[0]

    def add(self, b: int, slot: int) -> None:
        """Paste slot `slot` of clip b (pixels already showing a finer scale keep it)."""
        s = self.slot_scale[slot]
        y0, x0, y1, x1 = self.slot_boxes[slot]
        level = self.level[b, y0:y1, x0:x1]
        repaint = level < s
        box = self.canvas[b, :, y0:y1, x0:x1]
        self.canvas[b, :, y0:y1, x0:x1] = torch.where(repaint, self.views[b, s, :, y0:y1, x0:x1], box)
        self.level[b, y0:y1, x0:x1] = torch.where(repaint, torch.full_like(level, s), level)
        self._loss[b] = None

    def loss(self, b: int) -> float:
        """Clip b's paint loss of the frame as rebuilt so far (`metrics.l1`, as `paint` measures it)."""
        if self._loss[b] is None:
            self._loss[b] = float(l1(self.canvas[b : b + 1], self.target[b : b + 1])[0])
            self.paints += 1
        return self._loss[b]

    def finish(self) -> torch.Tensor:
        """End the frame; returns (B, 3, C, C) the rebuilt frame, the next frame's starting canvas."""
        return self.canvas
