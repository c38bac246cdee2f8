"""`paint`: the training-free reconstructor, and the painting primitives the greedy gazer shares.

Each frame is rebuilt from the previous frame's reconstruction with the gazed patches pasted on
top at their own scale: a patch at scale s is the frame downsampled to s x s, cut into patches,
and each patch upsampled on its own (no bleeding across patch borders) back to its canvas box.
Coarse patches are pasted first and finer ones over them, so a pixel shows the finest gazed scale
that covers it. Frame 0 starts from a neutral grey canvas.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from .. import metrics
from ..errors import check
from ..gaze import GazeResult
from ..geometry import MultiScaleGrid
from ..pixels import denormalize, normalize, resize, to_canvas
from .base import Reconstruction, Reconstructor


def blank_canvas(batch: int, canvas: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(B, 3, canvas, canvas) neutral grey (uint8 128) in normalised space: the canvas before frame 0."""
    grey = torch.full((batch, canvas, canvas, 3), 128, dtype=torch.uint8, device=device)
    return normalize(grey)


def check_paintable(grid: MultiScaleGrid) -> None:
    """Every scale's slot boxes must be whole pixels of the canvas."""
    for side in grid.sides:
        check(grid.canvas % side == 0,
              f"{grid.describe()} cannot be painted: {side} patches per side do not divide {grid.canvas} px")


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


class PaintReconstructor(Reconstructor):
    """Training-free reconstruction: previous frame plus the gazed patches pasted at their scale."""

    name = "paint"

    def __init__(self, grid: MultiScaleGrid | None = None, device=None):
        from ..geometry import DEFAULT_GRID

        super().__init__(grid or DEFAULT_GRID, device)
        check_paintable(self.grid)

    @torch.inference_mode()
    def _reconstruct(self, clips: np.ndarray, gaze: GazeResult, frames: list[int]) -> Reconstruction:
        from ..device import cpu_threads

        with cpu_threads(self.device):  # small per-frame ops: one thread is fastest (see cpu_threads)
            return self._paint_frames(clips, gaze, frames)

    def _paint_frames(self, clips: np.ndarray, gaze: GazeResult, frames: list[int]) -> Reconstruction:
        start = time.perf_counter()
        B, T = clips.shape[:2]
        C = self.grid.canvas
        levels = self.grid.finest_scale_map(gaze.slot_mask()).to(self.device)  # (B, T, C, C)
        canvas = blank_canvas(B, C, self.device)
        wanted = set(frames)
        rebuilt, targets = {}, {}
        # Frames are rebuilt in order because each one starts from the previous reconstruction.
        for t in range(max(frames) + 1):
            target = to_canvas(torch.from_numpy(clips[:, t]).to(self.device), C)  # (B, 3, C, C)
            canvas = paint(canvas, scale_views(target, self.grid), levels[:, t])
            if t in wanted:
                rebuilt[t], targets[t] = canvas, target
        pred = torch.stack([rebuilt[t] for t in frames], 1).float()  # (B, R, 3, C, C)
        target = torch.stack([targets[t] for t in frames], 1).float()
        pred_u8, target_u8 = denormalize(pred), denormalize(target)
        loss = metrics.l1(pred, target)
        return Reconstruction(
            frames=pred_u8.cpu(), normalized=pred.cpu(), frame_indices=torch.tensor(frames),
            loss=loss.cpu(), terms={"l1": loss.cpu()},
            psnr=metrics.psnr(pred_u8, target_u8).cpu(), ssim=metrics.ssim(pred_u8, target_u8).cpu(),
            reconstructor=self.name, seconds={"reconstruct": time.perf_counter() - start})
