"""A tiny AutoGaze checkpoint made in code: what the registry-parametrised tests load by its folder."""

from __future__ import annotations

from pathlib import Path

import torch


def save_tiny(folder: str | Path, seed: int = 0) -> Path:
    """Write a fresh `micro` AutoGaze (hidden size 32, one decoder layer, seeded random weights) to `folder`.

    The model is made and written as training makes and saves a new one (`build_gazer`, `save_gazer`),
    in the published layout (config.json, model.safetensors, preprocessor_config.json).
    """
    from ...training.run_folder import save_gazer  # training builds on gazers: imported when called
    from ...training.trainer import TrainSettings, build_gazer

    settings = TrainSettings(method="ntp", videos=[], out=str(folder), config="micro", seed=seed)
    return save_gazer(build_gazer(settings, torch.device("cpu")), folder)
