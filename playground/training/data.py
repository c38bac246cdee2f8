"""Training augmentation: a random view of a clip (`augment`, GRPO's `--augment`).

Finding videos, listing, keying and reading clips are `playground.clips`.

Shapes: T frames, H x W pixels.
"""

from __future__ import annotations

import numpy as np
import torch

from ..video import resize_frames


def augment(clip: np.ndarray, generator: torch.Generator, crop: float = 0.8) -> np.ndarray:
    """A random view of a clip (T, H, W, 3): a square crop of `crop`..1 of the side, a horizontal flip.

    The same crop and flip apply to every frame, so motion stays coherent; the crop is resized
    back to the clip's size.
    """
    T, H, W = clip.shape[:3]
    side = min(H, W)
    scale = crop + (1 - crop) * torch.rand((), generator=generator).item()
    s = max(16, int(round(side * scale)))
    y = int(torch.randint(0, H - s + 1, (), generator=generator))
    x = int(torch.randint(0, W - s + 1, (), generator=generator))
    view = clip[:, y : y + s, x : x + s]
    if torch.rand((), generator=generator).item() < 0.5:
        view = view[:, :, ::-1]
    return resize_frames(np.ascontiguousarray(view), (H, W))
