"""Shared fixtures: the device from $PLAYGROUND_DEVICE (default cpu), example clips, fixture paths."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ASSETS = ROOT / "assets"
EXAMPLE_VIDEO = ASSETS / "bigbuckbunny_clip.mp4"

# Tests are deterministic and small: keep torch from oversubscribing the 2 CI cores.
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def device() -> torch.device:
    return torch.device(os.environ.get("PLAYGROUND_DEVICE", "cpu"))


@pytest.fixture(scope="session")
def synthetic_clip() -> np.ndarray:
    """uint8 (16, 224, 224, 3): the reference's moving-square video."""
    from playground.synthetic import moving_square

    return moving_square()


@pytest.fixture(scope="session")
def example_clip() -> np.ndarray:
    """uint8 (16, H, W, 3): 16 frames of the Big Buck Bunny example asset."""
    from playground.video import read_video

    return read_video(EXAMPLE_VIDEO, num_frames=16)
