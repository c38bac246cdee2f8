"""`greedy`: the training-free greedy gazer, driven by the paint reconstruction loss.

For each frame it repeatedly adds the multi-scale patch whose paste (by the `paint` rules) lowers
the frame's L1 reconstruction loss the most, until the loss is at or below the threshold or the
budget is spent. The gain of every slot at scale s is a box-sum of the per-pixel error drop over
the pixels that s would repaint (those not already covered by a finer gazed patch). All 265 slots
are scored once at the start of a frame; after each paste only the slots whose boxes overlap the
pasted one can change, so only those are summed again (`SlotGains`), with the same reduction over
the same memory layout, so the gains, and so the picks, are bit for bit those of a full rescoring.

What a frame's gaze starts from does not depend on the budget or the threshold: the frame on the
canvas, what each scale would paint (`scale_views`) and that paint's per-pixel error. `prepare` makes
them for a whole clip once (`CanvasFrames`), so that the gazes of one clip at several thresholds (the
app's slots-vs-threshold curve) share them; `_step` reads them from there, or makes them for its frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from ..device import cpu_threads
from ..geometry import DEFAULT_GRID, MultiScaleGrid
from ..painting import check_paintable, paint, scale_views
from ..pixels import to_canvas
from ..video import as_clips
from .base import CanvasState, FrameByFrameGazer, FrameGaze


@dataclass
class CanvasFrames:
    """A clip's frames as greedy scores them, made once (`GreedyGazer.prepare`), one entry a frame t:

    targets[t]: (B, 3, C, C) the frame on the canvas, normalised; views[t]: (B, S, 3, C, C) what each
    scale's patches would paint (`scale_views`); view_err[t]: (B, S, C, C) the per-pixel L1 error (summed
    over channels) if scale s painted the pixel.
    """

    targets: list[torch.Tensor]
    views: list[torch.Tensor]
    view_err: list[torch.Tensor]

    def frame(self, t: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.targets[t], self.views[t], self.view_err[t]


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
        self._touched = [self._cells_over(box) for box in self._slot_boxes]  # slot -> the cells its box overlaps

    def _start(self, clips: np.ndarray) -> CanvasState:
        return CanvasState.blank(clips, self.grid, self.device)

    def _frame_views(self, frame: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Frame (B, H, W, 3) uint8 -> its canvas target, scale views and their per-pixel error (`CanvasFrames`)."""
        target = to_canvas(torch.from_numpy(frame).to(self.device), self.grid.canvas)  # (B, 3, C, C)
        views = scale_views(target, self.grid)  # (B, S, 3, C, C)
        return target, views, (views - target[:, None]).abs().sum(2)  # view_err (B, S, C, C)

    @torch.inference_mode()
    def prepare(self, video: Any) -> CanvasFrames:
        """Every frame's `_frame_views`, made as `_step` makes them (one thread on CPU), for `stream(prepared=)`."""
        clips = as_clips(video)
        with cpu_threads(self.device):
            made = [self._frame_views(clips[:, t]) for t in range(clips.shape[1])]
        return CanvasFrames(*(list(part) for part in zip(*made)))

    def prepared_nbytes(self, shape: Sequence[int]) -> int:
        B, T = (1, shape[0]) if len(shape) == 4 else (shape[0], shape[1])
        S, C = self.grid.num_scales, self.grid.canvas
        return B * T * (3 + 3 * S + S) * C * C * 4  # float32 targets, views and view_err

    @torch.inference_mode()
    def _step(self, state: CanvasState, t: int, budget: int, threshold: float | None) -> FrameGaze:
        grid, C = self.grid, self.grid.canvas
        if state.prepared is not None:
            target, views, view_err = state.prepared.frame(t)
        else:
            target, views, view_err = self._frame_views(state.frame(t))
        B = target.shape[0]
        canvas = state.canvas
        err = (canvas - target).abs().sum(1)  # (B, C, C) current per-pixel error
        level = torch.full((B, C, C), -1, dtype=torch.long, device=self.device)
        chosen = torch.zeros(B, grid.num_slots, dtype=torch.bool, device=self.device)
        active = torch.ones(B, dtype=torch.bool, device=self.device)
        ids: list[list[int]] = [[] for _ in range(B)]
        losses: list[list[float]] = [[] for _ in range(B)]
        norm = 3 * C * C  # the loss is a mean over (C, H, W)
        scores = None  # scored at the first pick: a frame already under the threshold needs none
        everyone = list(range(B))  # without a threshold every clip picks until its budget is spent
        for _ in range(budget):
            if threshold is not None:
                active &= err.sum((1, 2)) / norm > threshold
                if not bool(active.any()):
                    break
            if scores is None:
                scores = SlotGains(self, err, view_err, level)
            gains = scores.values.masked_fill(chosen, float("-inf"))  # (B, num_slots)
            best_gain, best = gains.max(1)
            if threshold is not None:
                active &= best_gain > 0
                if not bool(active.any()):
                    break
            for b in everyone if threshold is None else torch.nonzero(active).flatten().tolist():
                slot = int(best[b])
                self._apply(slot, b, level, err, view_err)
                self._rescore(scores, b, slot, err, view_err, level)
                chosen[b, slot] = True
                ids[b].append(slot)
                losses[b].append(float(err[b].sum()) / norm)
        state.canvas = paint(canvas, views, level)
        frame_losses = ((state.canvas - target).abs().mean((1, 2, 3))).tolist()
        return FrameGaze(ids, losses, frame_losses)

    def _gains(self, err: torch.Tensor, view_err: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """(B, num_slots) loss drop (summed over pixels) of pasting each slot now, every slot scored afresh."""
        return SlotGains(self, err, view_err, level).values

    def _drop(self, err: torch.Tensor, view_err: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """(B, S, h, w) per-pixel loss drop if scale s repaints the pixel, over any window of the canvas.

        err, level: (B, h, w); view_err: (B, S, h, w). Only pixels that scale s would repaint (not
        covered by a finer gazed patch) count; the rest drop 0.
        """
        return (err[:, None] - view_err) * (level[:, None] < self._scale_ids)

    def _cells_over(self, box: list[int]) -> list[tuple]:
        """The cells of every scale that a box (y0, x0, y1, x1) overlaps, as `SlotGains.update` reads them:
        (scale, cell side, rows, columns, pixel rows, pixel columns), each range a slice."""
        y0, x0, y1, x1 = box
        out = []
        for s, n in enumerate(self.grid.sides):
            cell = self.grid.canvas // n
            r0, r1, c0, c1 = y0 // cell, (y1 - 1) // cell + 1, x0 // cell, (x1 - 1) // cell + 1
            out.append(
                (s, cell, slice(r0, r1), slice(c0, c1), slice(r0 * cell, r1 * cell), slice(c0 * cell, c1 * cell))
            )
        return out

    def _rescore(
        self, scores: "SlotGains", b: int, slot: int, err: torch.Tensor, view_err: torch.Tensor, level: torch.Tensor
    ) -> None:
        """Bring the gains of clip b up to date after `slot` was pasted (tests swap in a full rescoring)."""
        scores.update(b, slot, err, view_err, level)

    def _apply(self, slot: int, b: int, level: torch.Tensor, err: torch.Tensor, view_err: torch.Tensor) -> None:
        """Paste one slot of clip b: update the level map and the per-pixel error inside its box."""
        s = int(self._slot_scale[slot])
        y0, x0, y1, x1 = self._slot_boxes[slot]
        box_level = level[b, y0:y1, x0:x1]
        repaint = box_level < s
        err[b, y0:y1, x0:x1] = torch.where(repaint, view_err[b, s, y0:y1, x0:x1], err[b, y0:y1, x0:x1])
        box_level.masked_fill_(repaint, s)  # a view of `level`: written in place


class SlotGains:
    """The (B, num_slots) loss drop of pasting each slot now, kept up to date as slots are pasted.

    `drop` (B, S, C, C) holds each pixel's share (`GreedyGazer._drop`). A paste changes the error
    and the level map only inside the pasted box, so `update` recomputes `drop` there and sums again
    only the cells, at every scale, that overlap the box: 1 to 4 cells a scale instead of all 265.
    Each cell is summed as a view of the whole-canvas `drop` (rows C floats apart), the layout a full
    rescoring sums, so torch reduces it in the same order and `values` equals a full rescoring's
    bit for bit (tests/test_greedy_gains.py), ties included.
    """

    def __init__(self, gazer: GreedyGazer, err: torch.Tensor, view_err: torch.Tensor, level: torch.Tensor):
        self._gazer = gazer
        grid = gazer.grid
        self.drop = gazer._drop(err, view_err, level)  # (B, S, C, C)
        B = err.shape[0]
        self.values = torch.cat(
            [self._cell_sums(self.drop[:, s], grid.canvas // n).reshape(B, n * n) for s, n in enumerate(grid.sides)],
            dim=1,
        )  # (B, num_slots)
        # (n, n) views of each clip's gains at each scale, written in place by `update`
        self._grids = [
            [self.values[b, grid.offsets[s] : grid.offsets[s + 1]].view(n, n) for s, n in enumerate(grid.sides)]
            for b in range(B)
        ]

    @staticmethod
    def _cell_sums(window: torch.Tensor, box: int) -> torch.Tensor:
        """(..., h/box, w/box) sums of the box x box cells of `window` (..., h, w), a view of the canvas."""
        *lead, h, w = window.shape
        cells = window.view(*lead, h // box, box, w // box, box)  # a view: no copy, rows still C apart
        return cells.sum((-3, -1))

    def update(self, b: int, slot: int, err: torch.Tensor, view_err: torch.Tensor, level: torch.Tensor) -> None:
        """Clip b's gains after `slot` was pasted (err and level already updated inside its box)."""
        y0, x0, y1, x1 = self._gazer._slot_boxes[slot]
        box = (slice(b, b + 1), slice(y0, y1), slice(x0, x1))
        self.drop[b : b + 1, :, y0:y1, x0:x1] = self._gazer._drop(
            err[box], view_err[b : b + 1, :, y0:y1, x0:x1], level[box]
        )
        drop, grids = self.drop[b], self._grids[b]
        for s, cell, rows, cols, pixel_rows, pixel_cols in self._gazer._touched[slot]:
            grids[s][rows, cols] = self._cell_sums(drop[s, pixel_rows, pixel_cols], cell)
