"""Baselines: `random` (uniform slots at the budget) and `full` (every finest-scale patch)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..geometry import DEFAULT_GRID
from .base import FrameByFrameGazer, FrameGaze, FrameState


@dataclass
class RandomState(FrameState):
    """The clips and the one generator that draws every frame's slots."""

    rng: torch.Generator


class RandomGazer(FrameByFrameGazer):
    """Uniformly random slots of all scales, exactly the budget per frame; ignores the threshold."""

    name = "random"
    threshold_unit = None

    def __init__(self, grid=None, device=None, seed: int = 0):
        super().__init__(grid or DEFAULT_GRID, device)
        self.seed = seed

    def _start(self, clips: np.ndarray) -> RandomState:
        return RandomState(clips, torch.Generator().manual_seed(self.seed))

    def _step(self, state: RandomState, t: int, budget: int, threshold: float | None) -> FrameGaze:
        return FrameGaze(
            [torch.randperm(self.grid.num_slots, generator=state.rng)[:budget].tolist() for _ in range(state.batch)]
        )


class FullGazer(FrameByFrameGazer):
    """Every finest-scale slot of every frame: the no-gazing baseline; ignores ratio and threshold."""

    name = "full"
    threshold_unit = None
    uses_budget = False

    def _step(self, state: FrameState, t: int, budget: int, threshold: float | None) -> FrameGaze:
        finest = self.grid.finest_slots.tolist()
        return FrameGaze([list(finest) for _ in range(state.batch)])
