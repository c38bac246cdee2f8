"""The measured stop: AutoGaze keeps its own patch order, but a frame stops on the paint loss it measures.

With `stop="measured"` the decoder still picks its top choice at every step (as with the head's
stop), and after each gaze the frame is rebuilt by the `paint` rules (`painting.PaintMeter`: the
reconstructor's canvas, pixel for pixel) and its loss measured; the frame ends before the first gaze
whose frame already measures at or below the threshold (the frame's first gaze is always kept, as
the reference keeps it). So `paint` rebuilds every frame at a loss <= the threshold unless the
frame's budget ran out first: the threshold is exact for `paint`, as it is for `greedy`, at the cost
of one measure of the frame per gaze kept (`GazeResult.settings["paints"]`, `seconds["measure"]`).
The loss trace (`GazeResult.loss`, `frame_loss`) is then the measured one (`loss_kind="measured"`).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ...device import cpu_threads
from ...geometry import MultiScaleGrid
from ...models.autogaze import FrameGaze, GazeSession, last_real
from ...painting import PaintMeter
from ...pixels import to_canvas

STOPS = ("predicted", "measured")


class MeasuredStop:
    """The measured stop over a batch of clips, frame after frame (the paint canvas carries over).

    Args:
        grid: the gazer's slot grid (paint rebuilds on it).
        batch: clips decoded together.
        threshold: the paint loss a frame stops at.
        device: where the canvas lives.
        eos: the decoder's padding id.
    """

    def __init__(self, grid: MultiScaleGrid, batch: int, threshold: float, device: torch.device, eos: int):
        self.meter = PaintMeter(grid, batch, device)
        self.threshold, self.device, self.eos = float(threshold), device, eos
        self.seconds = 0.0  # spent painting and measuring

    @property
    def paints(self) -> int:
        """Frames measured so far (one per gaze kept)."""
        return self.meter.paints

    def frame(self, session: GazeSession, feats: torch.Tensor, budget: int, frames: np.ndarray) -> FrameGaze:
        """Gaze one frame with `session`, stopping on the measured paint loss.

        Args:
            session: the decoding session (caches carried as usual).
            feats: (B, P, D) the frame's vision tokens.
            budget: the most gazes of this frame.
            frames: uint8 (B, H, W, 3) the frame as read (what paint rebuilds).

        Returns:
            The frame's `FrameGaze`, with the measured loss after each gaze.
        """
        start = time.perf_counter()
        with cpu_threads(self.device):
            target = to_canvas(torch.from_numpy(np.ascontiguousarray(frames)).to(self.device), self.meter.grid.canvas)
            self.meter.start(target)
        self.seconds += time.perf_counter() - start
        trace: list[np.ndarray] = []
        out = session.frame(feats, budget, None, stop=lambda tokens, first: self._step(tokens, first, trace))
        self.meter.finish()  # the frame's rebuild is where the next frame starts
        real = out.ids != self.eos
        loss = np.concatenate(trace, 1)
        loss[~real] = np.nan
        return FrameGaze(out.ids, loss, last_real(loss, real), out.steps)

    def _step(self, tokens: torch.Tensor, first: bool, trace: list[np.ndarray]) -> torch.Tensor:
        """One decode step: paste its tokens in order, each clip stopping before the first token its
        frame no longer needs; returns the (B, m) tokens to drop."""
        start = time.perf_counter()
        ids = tokens.cpu().numpy()
        B, m = ids.shape
        drop = np.zeros((B, m), dtype=bool)
        after = np.full((B, m), np.nan, dtype=np.float32)
        with cpu_threads(self.device), torch.inference_mode():
            for b in range(B):
                for i in range(m):
                    if ids[b, i] == self.eos:  # a clip already done
                        continue
                    if not (first and i == 0) and self.meter.loss(b) <= self.threshold:
                        drop[b, i:] = True
                        break
                    self.meter.add(b, int(ids[b, i]))
                    after[b, i] = self.meter.loss(b)
        trace.append(after)
        self.seconds += time.perf_counter() - start
        return torch.from_numpy(drop).to(tokens.device)
