"""Video input: decoding files with decord, accepting arrays, sampling, resizing, chunks and tiles.

(Skeleton: `as_clips` is the entry every verb uses; file decoding is being filled in.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import PlaygroundError, check


def as_clips(video: Any, **read_kwargs) -> np.ndarray:
    """Any accepted video input -> uint8 (B, T, H, W, 3).

    Accepts a path (video file or `.npy`), a uint8 array/tensor (T,H,W,3) or (B,T,H,W,3).
    `read_kwargs` go to `read_video` for files.
    """
    if isinstance(video, (str, Path)):
        path = Path(video)
        if path.suffix.lower() == ".npy":
            check(path.is_file(), f"no such file: {path}")
            try:
                video = np.load(path, allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise PlaygroundError(f"{path} is not a readable .npy array: {exc}") from exc
        else:
            video = read_video(path, **read_kwargs)
    if isinstance(video, torch.Tensor):
        video = video.detach().cpu().numpy()
    check(isinstance(video, np.ndarray), f"a video must be a path or a uint8 array, got {type(video).__name__}")
    check(video.dtype == np.uint8, f"video arrays must be uint8, got {video.dtype}")
    if video.ndim == 4:
        video = video[None]
    check(video.ndim == 5 and video.shape[-1] == 3,
          f"a video array must be (T,H,W,3) or (B,T,H,W,3), got shape {tuple(video.shape)}")
    check(video.shape[1] > 0, "the video has zero frames")
    check(min(video.shape[2:4]) >= 8, f"frames of {video.shape[2]}x{video.shape[3]} px are too small")
    return np.ascontiguousarray(video)


def read_video(path, **kwargs) -> np.ndarray:  # replaced by the full decord reader
    raise PlaygroundError("video file decoding is not wired in yet")
