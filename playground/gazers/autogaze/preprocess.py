"""AutoGaze's input side: uint8 RGB frames -> the gazer's normalised pixels, and frame sources.

`Preprocessor` reproduces the published `AutoGazeImageProcessor` (shortest-edge resize with PIL
bilinear, then a lookup-table normalisation); `frame_source` (from `playground.video`, re-exported) turns a clip,
a batch, a path or a live iterable of frames into frames (B, H, W, 3) in order, for `stream`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ...errors import check
from ...video import frame_source  # noqa: F401  (re-exported: it lives beside as_clips)

DEFAULT_PREPROCESSOR = {
    "do_resize": True,
    "size": {"shortest_edge": 224},
    "resample": 2,
    "do_rescale": True,
    "rescale_factor": 1 / 127.5,
    "offset": True,
    "do_normalize": True,
    "image_mean": [0.485, 0.456, 0.406],
    "image_std": [0.229, 0.224, 0.225],
}


class Preprocessor:
    """uint8 RGB frames -> the gazer's normalised pixels, as `AutoGazeImageProcessor` computes them.

    Resizing (shortest edge to 224, long edge floored, PIL bilinear) happens only when a frame's
    short side differs; the normalisation `((x * rescale_factor - 1) - mean) / std` is looked up
    from a 256-entry table computed with the processor's op order (float64 rescale, then float32).
    """

    def __init__(self, config: dict[str, Any] | None = None):
        cfg = dict(DEFAULT_PREPROCESSOR)
        cfg.update(config or {})
        self.config = cfg
        size = cfg.get("size") or {}
        self.shortest_edge = int(size.get("shortest_edge", 224)) if cfg.get("do_resize", True) else None
        check(int(cfg.get("resample", 2)) == 2, "only bilinear resampling (resample=2) is supported")
        check(
            not cfg.get("do_center_crop", False), "preprocessor_config.json asks for a centre crop; AutoGaze squashes"
        )
        values = np.arange(256, dtype=np.float64)
        if cfg.get("do_rescale", True):
            values = values * float(cfg.get("rescale_factor", 1 / 127.5))
        values = values.astype(np.float32)
        if cfg.get("offset", True):
            values = values - np.float32(1)
        lut = np.repeat(values[None], 3, axis=0)  # (3, 256)
        if cfg.get("do_normalize", True):
            mean = np.asarray(cfg.get("image_mean"), dtype=np.float32)[:, None]
            std = np.asarray(cfg.get("image_std"), dtype=np.float32)[:, None]
            lut = (lut - mean) / std
        self.lut = torch.from_numpy(np.ascontiguousarray(lut, dtype=np.float32))

    def resize_shape(self, height: int, width: int) -> tuple[int, int]:
        """(H, W) after the shortest-edge resize (unchanged without resizing)."""
        if self.shortest_edge is None or min(height, width) == self.shortest_edge:
            return height, width
        short, long = min(height, width), max(height, width)
        new_long = int(self.shortest_edge * long / short)
        return (self.shortest_edge, new_long) if height <= width else (new_long, self.shortest_edge)

    def __call__(self, frames: np.ndarray, size: tuple[int, int] | None = None) -> torch.Tensor:
        """uint8 (..., H, W, 3) -> float32 (..., 3, h, w).

        Args:
            frames: uint8 RGB frames.
            size: (h, w) to resize to instead of the shortest-edge rule (PIL bilinear).
        """
        lead, (H, W) = frames.shape[:-3], frames.shape[-3:-1]
        h, w = size or self.resize_shape(H, W)
        if (h, w) != (H, W):
            frames = _pil_resize(frames.reshape(-1, H, W, 3), h, w).reshape(*lead, h, w, 3)
        x = torch.from_numpy(np.ascontiguousarray(frames)).long()
        out = torch.stack([self.lut[c][x[..., c]] for c in range(3)], dim=-3)
        return out


def _pil_resize(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 (N, H, W, 3) -> (N, height, width, 3) with PIL bilinear (antialiased), like the HF processor."""
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.BILINEAR)) for f in frames])
