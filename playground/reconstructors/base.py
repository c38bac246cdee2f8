"""The `Reconstructor` interface and the `Reconstruction` it returns.

A reconstructor rebuilds video frames from a gaze (only the gazed multi-scale patches) and
measures how far the rebuild is from the input: the per-frame loss that the error threshold
(`task_loss_requirement`) refers to, plus PSNR and SSIM for people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from ..device import resolve_device
from ..errors import check
from ..gaze import GazeResult, as_gaze_result
from ..geometry import DEFAULT_GRID, MultiScaleGrid
from ..report import psnr_text
from ..video import as_clips


@dataclass
class Reconstruction:
    """Frames rebuilt from a gaze, with per-frame quality.

    B = clips, R = rebuilt frames, H = W = canvas side (224 by default).
    """

    frames: torch.Tensor  # (B, R, H, W, 3) uint8 rebuilt frames
    normalized: torch.Tensor  # (B, R, 3, H, W) float32 rebuilt frames in the reference's normalised space
    frame_indices: torch.Tensor  # (R,) int64 which input frames were rebuilt
    loss: torch.Tensor  # (B, R) float32 per-frame loss (the quantity the threshold refers to)
    terms: dict[str, torch.Tensor]  # name -> (B, R) float32 loss terms (e.g. "l1", "dinov2", "siglip2")
    psnr: torch.Tensor  # (B, R) float32 dB against the input on the same canvas
    ssim: torch.Tensor  # (B, R) float32 against the input on the same canvas
    reconstructor: str = ""  # name of the reconstructor
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage

    def summary(self) -> str:
        """One line: mean loss, PSNR (`playground.report.psnr_text`: exact frames counted, not averaged) and SSIM."""
        return (
            f"{self.reconstructor}: loss {float(self.loss.mean()):.4f}, PSNR {psnr_text(self.psnr)}, "
            f"SSIM {float(self.ssim.mean()):.3f} over {self.frames.shape[1]} frames"
        )


class Reconstructor:
    """Base class: rebuilds frames from gazed patches."""

    name: str = "reconstructor"

    def __init__(self, grid: MultiScaleGrid = DEFAULT_GRID, device: torch.device | str | None = None):
        self.grid = grid
        self.device = resolve_device(device)

    def prepare(self, video: Any) -> Any | None:
        """The work on a clip's frames that no gaze changes, done once so that several rebuilds of the clip (the
        app's threshold moves and curve) share it: hand it back as `reconstruct(video, gaze, prepared=it)` with the
        same frames, and the rebuild is the one without it, bit for bit. None: this reconstructor has no such work."""
        return None

    def prepared_nbytes(self, shape: Sequence[int]) -> int:
        """Bytes `prepare` holds for frames of `shape`, (T, H, W, 3) or (B, T, H, W, 3); 0: it prepares nothing."""
        return 0

    def reconstruct(
        self, video: Any, gaze: GazeResult | dict, frames: Sequence[int] | None = None, prepared: Any = None
    ) -> Reconstruction:
        """Rebuild frames of `video` from `gaze`.

        Args:
            video: uint8 (T,H,W,3) or (B,T,H,W,3) array/tensor, or a path.
            gaze: a `GazeResult` or the official dict, with the same B and T.
            frames: indices of the frames to rebuild (default: all).
            prepared: `self.prepare(video)` of these frames, or None (`prepare`).

        Returns:
            Reconstruction of the selected frames.
        """
        clips = as_clips(video)
        gaze = as_gaze_result(gaze, self.grid)
        check(
            gaze.grid == self.grid,
            f"the gaze uses {gaze.grid.describe()} but this reconstructor expects {self.grid.describe()}",
        )
        check(
            gaze.num_frames == clips.shape[1],
            f"the gaze covers {gaze.num_frames} frames but the video has {clips.shape[1]}",
        )
        check(
            gaze.batch_size == clips.shape[0],
            f"the gaze has {gaze.batch_size} clips but the video has {clips.shape[0]}",
        )
        index = list(range(clips.shape[1])) if frames is None else [int(f) for f in frames]
        check(
            len(index) > 0 and all(0 <= f < clips.shape[1] for f in index),
            f"frames to rebuild must lie in [0, {clips.shape[1]})",
        )
        return self._reconstruct(clips, gaze, index, prepared)

    def measure(self, video: Any, gaze: GazeResult | dict) -> GazeResult:
        """What loss does this gaze really reach? A copy of `gaze` with the measured per-frame loss."""
        rec = self.reconstruct(video, gaze)
        return as_gaze_result(gaze, self.grid).with_frame_loss(rec.loss, "measured")

    def _reconstruct(
        self, clips: np.ndarray, gaze: GazeResult, frames: list[int], prepared: Any = None
    ) -> Reconstruction:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, device={self.device})"
