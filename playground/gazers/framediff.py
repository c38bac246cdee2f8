"""`framediff`: a run-length / frame-difference gazer in the spirit of RLT.

It keeps only finest-scale patches. A patch is kept when its content differs from what the
viewer last saw there (the running reconstruction) by more than the threshold, measured as the
mean absolute difference over the patch in the reference's normalised space (its own scale, not
a reconstruction loss). Frame 0 keeps every patch (the viewer has seen nothing). With a budget, the
most-changed patches win; without a threshold (None, "off") the budget alone decides.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..pixels import to_canvas
from .base import CanvasState, FrameByFrameGazer, FrameGaze


class FrameDiffGazer(FrameByFrameGazer):
    """Keep finest-scale patches that changed beyond the threshold since they were last kept.

    The loss trace is the measured L1 of the pasted frame (the `paint` reconstruction restricted
    to finest patches), so it is comparable with the other gazers'.
    """

    name = "framediff"
    loss_kind = "measured"
    threshold_unit = "change"

    def _start(self, clips: np.ndarray) -> CanvasState:
        return CanvasState.blank(clips, self.grid, self.device)

    @torch.inference_mode()
    def _step(self, state: CanvasState, t: int, budget: int, threshold: float | None) -> FrameGaze:
        grid = self.grid
        n, p = grid.sides[-1], grid.canvas // grid.sides[-1]
        first = grid.offsets[-2]
        target = to_canvas(torch.from_numpy(state.frame(t)).to(self.device), grid.canvas)
        canvas = state.canvas
        change = F.avg_pool2d((target - canvas).abs().mean(1, keepdim=True), p).flatten(1)  # (B, n*n)
        limit = float("-inf") if t == 0 or threshold is None else threshold
        ids, losses = [], []
        for b in range(target.shape[0]):
            order = torch.argsort(change[b], descending=True, stable=True)
            keep = order[change[b][order] > limit][:budget]
            pixel_mask = torch.zeros(n * n, dtype=torch.bool, device=self.device)
            pixel_mask[keep] = True
            pixel_mask = pixel_mask.view(1, 1, n, n).float()
            pixel_mask = F.interpolate(pixel_mask, scale_factor=p, mode="nearest")[0, 0].bool()
            canvas[b] = torch.where(pixel_mask, target[b], canvas[b])
            ids.append((keep + first).tolist())
            losses.append(float((canvas[b] - target[b]).abs().mean()))
        state.canvas = canvas
        # No per-gaze trace: the patches of a frame are chosen together, not one by one.
        return FrameGaze(ids, None, losses)
