"""`greedy`: the training-free greedy gazer, driven by the paint reconstruction loss.

For each frame it repeatedly adds the multi-scale patch whose paste (by the `paint` rules) lowers
the frame's L1 reconstruction loss the most, until the loss is at or below the threshold or the
budget is spent. All 265 candidates are scored at once per step: the gain of every slot at scale s
is a box-sum of the per-pixel error drop over the pixels that s would repaint (those not already
covered by a finer gazed patch), which one adaptive pool per scale computes.
"""

from __future__ import annotations

import numpy as np
import torch

from ..geometry import DEFAULT_GRID, MultiScaleGrid
from ..painting import check_paintable, paint, scale_views
from ..pixels import to_canvas
from .base import CanvasState, FrameByFrameGazer, FrameGaze


class GreedyGazer(FrameByFrameGazer):
    """Greedy: pick the patch that lowers the paint loss most, until the threshold is met.

    (The `oracle` gazer applies the same rule with a real reconstructor's loss.)

    With a threshold, a frame also stops when no patch lowers its loss any more. Without one it
    spends its whole budget (the `gazing_ratio` cap). The loss trace is measured, not predicted.
    """

    name = "greedy"
    loss_kind = "measured"
    exact_for = "paint"

    def __init__(self, grid: MultiScaleGrid | None = None, device=None):
        super().__init__(grid or DEFAULT_GRID, device)
        check_paintable(self.grid)
        sides = torch.tensor(self.grid.sides)
        self._slot_scale = torch.repeat_interleave(torch.arange(self.grid.num_scales), sides * sides)
        self._slot_boxes = self.grid.boxes(np.arange(self.grid.num_slots)).tolist()  # (num_slots, 4)
        self._scale_ids = torch.arange(self.grid.num_scales, device=self.device).view(1, -1, 1, 1)

    def _start(self, clips: np.ndarray) -> CanvasState:
        return CanvasState.blank(clips, self.grid, self.device)

    @torch.inference_mode()
    def _step(self, state: CanvasState, t: int, budget: int, threshold: float | None) -> FrameGaze:
        grid, C = self.grid, self.grid.canvas
        target = to_canvas(torch.from_numpy(state.clips[:, t]).to(self.device), C)  # (B, 3, C, C)
        views = scale_views(target, grid)  # (B, S, 3, C, C)
        B = target.shape[0]
        view_err = (views - target[:, None]).abs().sum(2)  # (B, S, C, C) error if scale s paints a pixel
        canvas = state.canvas
        err = (canvas - target).abs().sum(1)  # (B, C, C) current per-pixel error
        level = torch.full((B, C, C), -1, dtype=torch.long, device=self.device)
        chosen = torch.zeros(B, grid.num_slots, dtype=torch.bool, device=self.device)
        active = torch.ones(B, dtype=torch.bool, device=self.device)
        ids: list[list[int]] = [[] for _ in range(B)]
        losses: list[list[float]] = [[] for _ in range(B)]
        norm = 3 * C * C  # the loss is a mean over (C, H, W)
        for _ in range(budget):
            loss = err.sum((1, 2)) / norm
            if threshold is not None:
                active &= loss > threshold
            if not bool(active.any()):
                break
            gains = self._gains(err, view_err, level)  # (B, num_slots)
            gains = gains.masked_fill(chosen, float("-inf"))
            best_gain, best = gains.max(1)
            if threshold is not None:
                active &= best_gain > 0
                if not bool(active.any()):
                    break
            for b in torch.nonzero(active).flatten().tolist():
                slot = int(best[b])
                self._apply(slot, b, level, err, view_err)
                chosen[b, slot] = True
                ids[b].append(slot)
                losses[b].append(float(err[b].sum()) / norm)
        state.canvas = paint(canvas, views, level)
        frame_losses = ((state.canvas - target).abs().mean((1, 2, 3))).tolist()
        return FrameGaze(ids, losses, frame_losses)

    def _gains(self, err: torch.Tensor, view_err: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """(B, num_slots) loss drop (summed over pixels) of pasting each slot now."""
        B, C = err.shape[0], self.grid.canvas
        # Only pixels that scale s would repaint (not covered by a finer gazed patch) count.
        drop = (err[:, None] - view_err) * (level[:, None] < self._scale_ids)  # (B, S, C, C)
        per_scale = []
        for s, n in enumerate(self.grid.sides):
            box = C // n
            per_scale.append(drop[:, s].reshape(B, n, box, n, box).sum((2, 4)).flatten(1))
        return torch.cat(per_scale, dim=1)

    def _apply(self, slot: int, b: int, level: torch.Tensor, err: torch.Tensor, view_err: torch.Tensor) -> None:
        """Paste one slot of clip b: update the level map and the per-pixel error inside its box."""
        s = int(self._slot_scale[slot])
        y0, x0, y1, x1 = self._slot_boxes[slot]
        box_level = level[b, y0:y1, x0:x1]
        repaint = box_level < s
        err[b, y0:y1, x0:x1] = torch.where(repaint, view_err[b, s, y0:y1, x0:x1], err[b, y0:y1, x0:x1])
        level[b, y0:y1, x0:x1] = torch.where(repaint, torch.full_like(box_level, s), box_level)
