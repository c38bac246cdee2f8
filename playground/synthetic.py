"""A deterministic synthetic video: colour ramps with a bright square moving diagonally.

It is the input the reference vectors were made with (AUTOGAZE_SPEC.md section 4.2), so tests,
notebooks and benchmarks can rebuild it exactly instead of shipping arrays.
"""

from __future__ import annotations

import numpy as np


def moving_square(num_frames: int = 16, height: int = 224, width: int = 224) -> np.ndarray:
    """uint8 (T, H, W, 3): R ramps left to right, G top to bottom, B constant; a 32 px white square moves 8 px/frame."""
    y = np.arange(height, dtype=np.float64)[:, None]
    x = np.arange(width, dtype=np.float64)[None, :]
    background = np.stack([40 + 120 * x / (width - 1) + 0 * y,
                           40 + 120 * y / (height - 1) + 0 * x,
                           100 + 0 * x + 0 * y], axis=-1)
    video = np.empty((num_frames, height, width, 3), np.uint8)
    for t in range(num_frames):
        frame = background.copy()
        r0 = c0 = 16 + 8 * t
        frame[r0:r0 + 32, c0:c0 + 32, :] = 250.0
        video[t] = np.round(frame).astype(np.uint8)
    return video
