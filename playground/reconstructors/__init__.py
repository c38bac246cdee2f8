"""Reconstructor registry: `load_reconstructor(name_or_path)` returns a ready `Reconstructor`.

`paint` is the training-free one (offline, instant). Anything else is taken as a
VideoMAE_AutoGaze checkpoint: the hub id `bfshi/VideoMAE_AutoGaze`, a `videomae.pt`, a converted
`.safetensors` or a folder holding one.
"""

from __future__ import annotations

import torch

from .base import Reconstruction, Reconstructor
from .paint import PaintReconstructor

TRAINING_FREE_RECONSTRUCTORS: dict[str, type[Reconstructor]] = {"paint": PaintReconstructor}
VIDEOMAE_HUB_IDS = ("bfshi/VideoMAE_AutoGaze",)


def available_reconstructors(built_in: bool = False) -> list[str]:
    """Names `load_reconstructor` understands without a path; `built_in=True`: those that need no weights."""
    return list(TRAINING_FREE_RECONSTRUCTORS) + ([] if built_in else list(VIDEOMAE_HUB_IDS))


def load_reconstructor(name_or_path: str = "paint", device: str | torch.device | None = None,
                       **kwargs) -> Reconstructor:
    """Load a reconstructor by name (`paint`) or VideoMAE_AutoGaze checkpoint.

    Args:
        name_or_path: `paint`, a hub id, a `videomae.pt` / `.safetensors` file or a folder.
        device: where to run; default from $PLAYGROUND_DEVICE, else CUDA when available, else CPU.
        **kwargs: passed on (e.g. `config=` for a non-default VideoMAE architecture).

    Returns:
        A `Reconstructor` whose `.reconstruct(video, gaze)` returns a `Reconstruction`.
    """
    key = str(name_or_path).strip()
    if key.lower() in TRAINING_FREE_RECONSTRUCTORS:
        return TRAINING_FREE_RECONSTRUCTORS[key.lower()](device=device, **kwargs)
    from .videomae import load_videomae

    return load_videomae(key, device=device, **kwargs)


__all__ = ["Reconstruction", "Reconstructor", "load_reconstructor", "available_reconstructors",
           "TRAINING_FREE_RECONSTRUCTORS", "VIDEOMAE_HUB_IDS"]
