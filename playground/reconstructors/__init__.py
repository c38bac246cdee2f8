"""Reconstructor registry: `load_reconstructor(name_or_path)` returns a ready `Reconstructor`.

`paint` is the training-free one (offline, instant). Anything else belongs to a learned family of
`LEARNED_RECONSTRUCTORS` (VideoMAE_AutoGaze: the hub id `bfshi/VideoMAE_AutoGaze`, a `videomae.pt`,
a converted `.safetensors` or a folder holding one), asked in order through `playground.loaders`;
a name no family claims is one line.
"""

from __future__ import annotations

import torch

from ..loaders import Loader, claim, named
from .base import Reconstruction, Reconstructor
from .paint import PaintReconstructor

TRAINING_FREE_RECONSTRUCTORS: dict[str, type[Reconstructor]] = {"paint": PaintReconstructor}
# Learned families, asked in this order for any other name (docs/architecture.md, "Adding a learned family").
LEARNED_RECONSTRUCTORS: tuple[Loader, ...] = (
    Loader(
        "videomae",
        "playground.reconstructors.videomae:load_videomae",
        "playground.reconstructors.videomae:save_tiny",
        hub_ids=("bfshi/VideoMAE_AutoGaze",),
        config_files=("config_and_results.json", "config.yaml"),
        key_prefixes=("module.mae.", "mae.", "vit."),
        suffixes=(".pt", ".pth"),
    ),
)


def available_reconstructors(built_in: bool = False) -> list[str]:
    """Names `load_reconstructor` understands without a path; `built_in=True`: those that need no weights."""
    published = [hub_id for loader in LEARNED_RECONSTRUCTORS for hub_id in loader.hub_ids]
    return list(TRAINING_FREE_RECONSTRUCTORS) + ([] if built_in else published)


def load_reconstructor(
    name_or_path: str = "paint", device: str | torch.device | None = None, **kwargs
) -> Reconstructor:
    """Load a reconstructor by name (`paint`) or checkpoint (VideoMAE_AutoGaze).

    Args:
        name_or_path: `paint`, or a learned family's hub id or a checkpoint one of `LEARNED_RECONSTRUCTORS`
            recognises (a `videomae.pt` / `.safetensors` file or a folder).
        device: where to run; default from $PLAYGROUND_DEVICE, else CUDA when available, else CPU.
        **kwargs: passed on (e.g. `config=` for a non-default VideoMAE architecture).

    Returns:
        A `Reconstructor` whose `.reconstruct(video, gaze)` returns a `Reconstruction`.
    """
    key = str(name_or_path).strip()
    if key.lower() in TRAINING_FREE_RECONSTRUCTORS:
        return TRAINING_FREE_RECONSTRUCTORS[key.lower()](device=device, **kwargs)
    found = claim(LEARNED_RECONSTRUCTORS, key, "reconstructor", kwargs.get("revision"), kwargs.get("cache_dir"))
    return named(found.loader.function()(found.target, device=device, **kwargs), found.name)


__all__ = [
    "Reconstruction",
    "Reconstructor",
    "load_reconstructor",
    "available_reconstructors",
    "TRAINING_FREE_RECONSTRUCTORS",
    "LEARNED_RECONSTRUCTORS",
]
