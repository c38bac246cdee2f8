"""The VideoMAE_AutoGaze reconstructor: loads the published checkpoint safely and rebuilds gazed videos.

What lives where:

- `loading`: `load_videomae(name_or_path)` (the hub id `bfshi/VideoMAE_AutoGaze`, a `videomae.pt`,
  a converted `.safetensors` or a folder holding one; strict checks through `playground.checkpoints`),
  the configs (`resolve_config`, `config_from_yaml`), `build_model`, `read_state_dict`
  (`torch.load(weights_only=True)` only), `convert_checkpoint` (`.pt` -> `.safetensors`) and
  `save_tiny` (a tiny random checkpoint, for the registry tests).
- `reconstructor`: `VideoMAEReconstructor` (`reconstruct(video, gaze)`: the rebuilt frames and the
  per-frame loss `1*L1 + 0.3*DINOv2 + 0.3*SigLIP2` that AutoGaze's threshold refers to) and
  `task_frames` (the reference's preprocessing).
"""

from .loading import (
    HUB_ID,
    build_model,
    config_from_yaml,
    convert_checkpoint,
    find_checkpoint,
    load_videomae,
    match_state_dict,
    read_state_dict,
    resolve_config,
    save_tiny,
)
from .reconstructor import VideoMAEReconstructor, task_frames

__all__ = [
    "VideoMAEReconstructor",
    "load_videomae",
    "convert_checkpoint",
    "read_state_dict",
    "match_state_dict",
    "build_model",
    "resolve_config",
    "config_from_yaml",
    "find_checkpoint",
    "save_tiny",
    "task_frames",
    "HUB_ID",
]
