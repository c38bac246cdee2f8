"""Gazer registry: `load_gazer(name_or_path)` returns a ready `Gazer`.

Names of the built-in, training-free gazers load instantly and offline. Anything else is taken as
an AutoGaze checkpoint: a hub id (`nvidia/AutoGaze`), a local folder or a safetensors file.
"""

from __future__ import annotations

import torch

from .base import FrameByFrameGazer, Gazer, frame_budgets
from .simple import FullGazer, RandomGazer
from .greedy import GreedyGazer
from .framediff import FrameDiffGazer
from .oracle import OracleGazer

TRAINING_FREE_GAZERS: dict[str, type[Gazer]] = {
    "greedy": GreedyGazer,
    "framediff": FrameDiffGazer,
    "random": RandomGazer,
    "full": FullGazer,
}
AUTOGAZE_HUB_IDS = ("nvidia/AutoGaze", "bfshi/AutoGaze")
# Gazers that measure a reconstructor's loss while they pick (`reconstructor=`; slow, not listed above).
MEASURING_GAZERS: dict[str, type[Gazer]] = {"oracle": OracleGazer}


def available_gazers() -> list[str]:
    """Names `load_gazer` understands without a path (AutoGaze hub ids need weights in the cache)."""
    return list(TRAINING_FREE_GAZERS) + list(AUTOGAZE_HUB_IDS)


def load_gazer(name_or_path: str, device: str | torch.device | None = None, **kwargs) -> Gazer:
    """Load a gazer by name (`greedy`, `framediff`, `random`, `full`) or AutoGaze checkpoint.

    Args:
        name_or_path: a training-free gazer's name, a hub id, a local folder or a safetensors file.
        device: where to run; default from $PLAYGROUND_DEVICE, else CUDA when available, else CPU.
        **kwargs: passed to the gazer (e.g. `seed` for `random`, `grid` for other scales).

    Returns:
        A `Gazer` whose `.gaze(video, gazing_ratio=..., task_loss_requirement=...)` returns a `GazeResult`.
    """
    key = str(name_or_path).strip()
    if key.lower() in TRAINING_FREE_GAZERS:
        return TRAINING_FREE_GAZERS[key.lower()](device=device, **kwargs)
    if key.lower() in MEASURING_GAZERS:
        return MEASURING_GAZERS[key.lower()](device=device, **kwargs)
    from .autogaze import load_autogaze

    return load_autogaze(key, device=device, **kwargs)


__all__ = ["Gazer", "FrameByFrameGazer", "load_gazer", "available_gazers", "frame_budgets",
           "TRAINING_FREE_GAZERS", "AUTOGAZE_HUB_IDS"]
