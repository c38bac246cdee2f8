"""One-call gaze + rebuild + picture, for notebooks and interactive widgets.

`view_gaze` gazes a clip, rebuilds it and returns a `GazeView` whose rich HTML shows the summary
and original | gazed | reconstruction for one frame. `gaze_html` is the same as a string, threshold
first, so a notebook can drive it live with `ipywidgets.dlink` from a slider to an `ipywidgets.HTML`
(`transform=functools.partial(gaze_html, video=clip)`) and define no function of its own. (We avoid
`ipywidgets.interact` there: its Output widget made nbclient, which runs the notebooks in the tests,
stall until the cell timeout about one run in three.) Gazers and reconstructors are loaded once per
name and reused.
"""

from __future__ import annotations

import base64
import functools
import html
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from . import knobs
from .gaze import GazeResult
from .gazers import load_gazer
from .reconstructors import Reconstruction, load_reconstructor
from .report import psnr_text
from .video import as_clips, resize_frames


@functools.lru_cache(maxsize=8)
def _gazer(name: str):
    return load_gazer(name)


@functools.lru_cache(maxsize=4)
def _reconstructor(name: str):
    return load_reconstructor(name)


@dataclass
class GazeView:
    """A gaze and its reconstruction, shown as HTML in notebooks."""

    frames: np.ndarray  # (T, H, W, 3) uint8 original frames
    gaze: GazeResult  # one clip
    reconstruction: Reconstruction  # every frame rebuilt
    frame: int = 0  # the frame the picture shows

    def picture(self) -> np.ndarray:
        """uint8 (H, W', 3): original | gazed overlay | reconstruction of `frame`."""
        from .viz import overlay_frames, side_by_side

        t = self.frame
        original = self.frames[t : t + 1]
        overlay = overlay_frames(original, _one_frame(self.gaze, t))
        rebuilt = resize_frames(self.reconstruction.frames[0, t : t + 1].numpy(), original.shape[1:3])
        return side_by_side(original, overlay, rebuilt, labels=["original", "gazed", "reconstruction"])[0]

    def _repr_html_(self) -> str:
        buffer = io.BytesIO()
        Image.fromarray(self.picture()).save(buffer, format="PNG")
        data = base64.b64encode(buffer.getvalue()).decode()
        rec = self.reconstruction
        t = self.frame
        line = (
            f"{self.gaze.summary()} | frame {t}: {int(self.gaze.counts()[0, t])} slots, "
            f"loss {float(rec.loss[0, t]):.4f}, PSNR {psnr_text(rec.psnr[0, t : t + 1])} | {rec.summary()}"
        )
        return f"<p>{html.escape(line)}</p><img src='data:image/png;base64,{data}' style='max-width:100%'/>"


def _one_frame(gaze: GazeResult, t: int) -> GazeResult:
    """Frame t of clip 0 as a one-frame result (for drawing a single frame)."""
    return GazeResult.from_frame_slots([[gaze.frame_slots(0, t).tolist()]], gaze.grid)


def view_gaze(
    video: Any,
    threshold: float | None = knobs.THRESHOLD,
    gazer: str = "greedy",
    reconstructor: str = "paint",
    gazing_ratio: float | None = knobs.GAZING_RATIO,
    frame: int = 0,
) -> GazeView:
    """Gaze `video` (one clip), rebuild it, and return a `GazeView` showing `frame`.

    Args:
        video: uint8 (T,H,W,3) array or a path.
        threshold: the error threshold (task_loss_requirement); None or 0 = no threshold (default: the app's).
        gazer: a gazer name or checkpoint (loaded once and cached).
        reconstructor: a reconstructor name or checkpoint (loaded once and cached).
        gazing_ratio: cap on slots per frame as a fraction of the slots (None = no cap; default: the app's).
        frame: the frame to picture.

    Returns:
        GazeView with the gaze, the reconstruction and the picture of `frame`.
    """
    frames = as_clips(video)[0]
    gaze = _gazer(gazer).gaze(
        frames, gazing_ratio=gazing_ratio, task_loss_requirement=knobs.threshold_or_off(threshold)
    )
    rec = _reconstructor(reconstructor).reconstruct(frames, gaze)
    return GazeView(frames, gaze, rec, min(max(int(frame), 0), len(frames) - 1))


def gaze_html(
    threshold: float | None,
    video: Any,
    gazer: str = "greedy",
    reconstructor: str = "paint",
    gazing_ratio: float | None = knobs.GAZING_RATIO,
    frame: int = 0,
) -> str:
    """`view_gaze(...)` as HTML, with the threshold first: a transform for `ipywidgets.dlink` from a slider.

    `functools.partial(gaze_html, video=clip)` maps a threshold slider to an `ipywidgets.HTML` value,
    a live view with no Output widget (and no function defined in the notebook).
    """
    return view_gaze(video, threshold, gazer, reconstructor, gazing_ratio, frame)._repr_html_()
