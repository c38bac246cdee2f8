"""`paint`: the training-free reconstructor (its primitives live in `playground.painting`, shared with gazers).

Each frame is rebuilt from the previous frame's reconstruction with the gazed patches pasted on
top at their own scale: a patch at scale s is the frame downsampled to s x s, cut into patches,
and each patch upsampled on its own (no bleeding across patch borders) back to its canvas box.
Coarse patches are pasted first and finer ones over them, so a pixel shows the finest gazed scale
that covers it. Frame 0 starts from a neutral grey canvas.

What a rebuild starts from does not depend on the gaze: each frame on the canvas, normalised (most of a
rebuild's time). `prepare` makes them for a whole clip once, so that the rebuilds of one clip at several
thresholds (the app's threshold moves and its slots-vs-threshold curve) share them.

Frames are rebuilt and measured one at a time (memory: a few frames of the batch, not every frame's
float copies), and SSIM, the slowest measure, is computed when `Reconstruction.ssim` is first read:
whole-video runs (`video_run`), which report loss and PSNR only, never pay for it.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
import torch

from .. import metrics
from ..device import cpu_threads
from ..errors import check
from ..gaze import GazeResult
from ..geometry import DEFAULT_GRID, MultiScaleGrid
from ..painting import blank_canvas, check_paintable, paint_gazed
from ..pixels import denormalize, to_canvas
from ..video import as_clips
from .base import Reconstruction, Reconstructor


class PaintReconstruction(Reconstruction):
    """A `Reconstruction` whose `ssim` is measured on first read (same values, computed as `metrics.ssim` would)."""

    _ssim: torch.Tensor | None = None
    _ssim_inputs: tuple | None = None  # (pred uint8, target uint8, device) until ssim is read

    @property
    def ssim(self) -> torch.Tensor:
        if self._ssim is None and self._ssim_inputs is not None:
            pred, target, device = self._ssim_inputs
            with cpu_threads(device):  # as the rebuild ran: one thread on CPU, so the reductions add up alike
                self._ssim = metrics.ssim(pred, target).cpu()
            self._ssim_inputs = None
        return self._ssim

    @ssim.setter
    def ssim(self, value: torch.Tensor | None) -> None:
        self._ssim = value


class PaintReconstructor(Reconstructor):
    """Training-free reconstruction: previous frame plus the gazed patches pasted at their scale."""

    name = "paint"

    def __init__(self, grid: MultiScaleGrid | None = None, device=None):
        super().__init__(grid or DEFAULT_GRID, device)
        check_paintable(self.grid)

    @torch.inference_mode()
    def prepare(self, video: Any) -> list[torch.Tensor]:
        """Every frame on the canvas as `paint_step` makes it (one thread on CPU): (B, 3, C, C) normalised, one
        tensor a frame, for `reconstruct(prepared=)`."""
        clips = as_clips(video)
        with cpu_threads(self.device):
            return [self._on_canvas(clips[:, t]) for t in range(clips.shape[1])]

    def prepared_nbytes(self, shape: Sequence[int]) -> int:
        B, T = (1, shape[0]) if len(shape) == 4 else (shape[0], shape[1])
        return B * T * 3 * self.grid.canvas**2 * 4  # float32 frames on the canvas

    @torch.inference_mode()
    def _reconstruct(
        self, clips: np.ndarray, gaze: GazeResult, frames: list[int], prepared: list[torch.Tensor] | None = None
    ) -> Reconstruction:
        if prepared is not None:
            B, T, C = clips.shape[0], clips.shape[1], self.grid.canvas
            check(
                len(prepared) == T and all(tuple(p.shape) == (B, 3, C, C) for p in prepared),
                f"the prepared frames are not these {T} frames' (prepare them with this reconstructor's prepare)",
            )
        with cpu_threads(self.device):  # small per-frame ops: one thread is fastest (see cpu_threads)
            return self._paint_frames(clips, gaze, frames, prepared)

    def _on_canvas(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 (B, H, W, 3) frames -> (B, 3, C, C) normalised, at the canvas size."""
        return to_canvas(torch.from_numpy(np.ascontiguousarray(frames)).to(self.device), self.grid.canvas)

    def paint_step(
        self, canvas: torch.Tensor, frames: np.ndarray, slot_mask: torch.Tensor, target: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One frame rebuilt over the last: `canvas` (B, 3, C, C) normalised (`blank_canvas` before frame 0),
        `frames` uint8 (B, H, W, 3), `slot_mask` (B, S) bool -> the new canvas and the frame at the canvas
        size, both (B, 3, C, C) normalised. `target`: that frame at the canvas size when made already
        (`prepare`). `reconstruct` runs it frame after frame; the app's Live tab runs it as frames arrive."""
        frame = self._on_canvas(frames) if target is None else target
        return paint_gazed(canvas, frame, self.grid.finest_scale_map(slot_mask), self.grid).contiguous(), frame

    def _paint_frames(
        self, clips: np.ndarray, gaze: GazeResult, frames: list[int], prepared: list[torch.Tensor] | None = None
    ) -> Reconstruction:
        start = time.perf_counter()
        B, C, R = clips.shape[0], self.grid.canvas, len(frames)
        mask = gaze.slot_mask().to(self.device)  # (B, T, S)
        places: dict[int, list[int]] = {}  # frame -> its places among the rebuilt frames
        for i, t in enumerate(frames):
            places.setdefault(t, []).append(i)
        pred = torch.empty(B, R, 3, C, C, device=self.device)
        # uint8 frames laid out as `denormalize` of (B, R, 3, C, C) lays them out (channels-last views)
        pred_u8 = torch.empty(B, R, 3, C, C, dtype=torch.uint8, device=self.device)
        target_u8 = torch.empty_like(pred_u8)
        loss = torch.empty(B, R, device=self.device)
        psnr = torch.empty(B, R, device=self.device)
        canvas = blank_canvas(B, C, self.device)
        # Frames are rebuilt in order because each one starts from the previous reconstruction; each is
        # measured as it is rebuilt, on contiguous (B, 3, C, C) frames: the sums run in the order they ran
        # when every rebuilt frame was measured at once.
        for t in range(max(frames) + 1):
            canvas, frame = self.paint_step(canvas, clips[:, t], mask[:, t], None if prepared is None else prepared[t])
            if t not in places:
                continue
            frame = frame.contiguous()
            shown, wanted = denormalize(canvas), denormalize(frame)  # (B, C, C, 3) views of (B, 3, C, C)
            frame_loss, frame_psnr = metrics.l1(canvas, frame), metrics.psnr(shown, wanted)
            for i in places[t]:
                pred[:, i], pred_u8[:, i], target_u8[:, i] = canvas, shown.movedim(-1, -3), wanted.movedim(-1, -3)
                loss[:, i], psnr[:, i] = frame_loss, frame_psnr
        pred_u8, target_u8 = pred_u8.movedim(-3, -1), target_u8.movedim(-3, -1)  # (B, R, C, C, 3)
        rec = PaintReconstruction(
            frames=pred_u8.cpu(),
            normalized=pred.cpu(),
            frame_indices=torch.tensor(frames),
            loss=loss.cpu(),
            terms={"l1": loss.cpu()},
            psnr=psnr.cpu(),
            ssim=None,
            reconstructor=self.name,
            seconds={"reconstruct": time.perf_counter() - start},
        )
        rec._ssim_inputs = (pred_u8, target_u8, self.device)
        return rec
