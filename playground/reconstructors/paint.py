"""`paint`: the training-free reconstructor (its primitives live in `playground.painting`, shared with gazers).

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

from .. import metrics
from ..device import cpu_threads
from ..gaze import GazeResult
from ..geometry import DEFAULT_GRID, MultiScaleGrid
from ..painting import blank_canvas, check_paintable, paint, scale_views
from ..pixels import denormalize, to_canvas
from .base import Reconstruction, Reconstructor


class PaintReconstructor(Reconstructor):
    """Training-free reconstruction: previous frame plus the gazed patches pasted at their scale."""

    name = "paint"

    def __init__(self, grid: MultiScaleGrid | None = None, device=None):
        super().__init__(grid or DEFAULT_GRID, device)
        check_paintable(self.grid)

    @torch.inference_mode()
    def _reconstruct(self, clips: np.ndarray, gaze: GazeResult, frames: list[int]) -> Reconstruction:
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
