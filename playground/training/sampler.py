"""Sampled gazing for GRPO: the reference's sampler, its temperature schedule and the two rollout passes.

A decode step of AutoGaze scores K next gazes at once (K heads). `Sampler` replaces the greedy
choice of a step (`models.autogaze.greedy_pick`) with the reference's sampling
(AUTOGAZE_SPEC.md § 6.4): the repeat and EOS bans, then temperature, then top-k (50) on all K rows;
then, row by row, a draw from the softmax, banning the drawn id in the later rows of the step.

`rollouts` makes GRPO's inputs: a `self` pass per clip (one sampled gazing with a per-frame cap and
a task-loss requirement drawn from a range) fixes each frame's budget, then G rollouts per clip
are sampled with those budgets and no task-loss stop.

Shapes: B clips, G rollouts per clip, K heads, V = S + 1 ids, T frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import check
from ..knobs import SELF_PASS_REQUIREMENT, TEMPERATURE, TOP_K  # the CLI's defaults (`train grpo --help`)

SELF_PASS_RATIO = 0.75  # per-frame cap of the self pass, int(0.75 * S) gazes


def temperature(step: int, total_steps: int, start: float = TEMPERATURE[0], end: float = TEMPERATURE[1]) -> float:
    """The reference's rollout temperature `start * (end / start) ** (step / total_steps)`."""
    return float(start * (end / start) ** (step / max(total_steps, 1)))


@dataclass
class Sampler:
    """One decode step's sampled choice (a `GazeSession.pick`).

    Args:
        temperature: logits are divided by it (> 0).
        top_k: keep ids at or above the k-th largest scaled logit of each row (0: keep all).
        generator: the torch.Generator of the draws (CPU), for reproducible rollouts.
    """

    temperature: float
    top_k: int = TOP_K
    generator: torch.Generator | None = None

    def __post_init__(self) -> None:
        check(self.temperature > 0, f"temperature must be positive, got {self.temperature}")
        check(self.top_k >= 0, f"top_k must be 0 or more, got {self.top_k}")

    def scores(self, logits: torch.Tensor, used: torch.Tensor) -> torch.Tensor:
        """(B, K, V) logits, (B, V) used ids -> (B, K, V) scores after the bans, temperature and top-k.

        On the generator's device (the CPU unless the generator lives elsewhere), where the draws are made.
        """
        device = self.generator.device if self.generator is not None else logits.device
        scores = logits.to(device).masked_fill(used.to(device)[:, None, :], -torch.inf)
        scores[..., -1] = -torch.inf  # EOS is never chosen
        scores = scores / self.temperature
        if self.top_k and self.top_k < scores.shape[-1]:
            kth = scores.topk(self.top_k, dim=-1).values[..., -1:]
            scores = scores.masked_fill(scores < kth, -torch.inf)
        return scores

    def __call__(self, logits: torch.Tensor, used: torch.Tensor, left: int, K: int) -> tuple[torch.Tensor, bool]:
        """Same contract as `greedy_pick`: tokens (B, m <= K) int64 and whether the step stopped early."""
        scores = self.scores(logits, used)
        rows = torch.arange(scores.shape[0], device=scores.device)
        picked, early = [], False
        for i in range(K):
            if i >= left or bool(torch.isneginf(scores[:, i]).all()):
                early = True
                break
            probs = scores[:, i].softmax(-1)
            check(
                bool(torch.isfinite(probs).all()),
                "the gazer's scores are not finite (its weights diverged): train with a lower --lr",
            )
            tok = torch.multinomial(probs, 1, generator=self.generator)[:, 0]
            picked.append(tok)
            scores[rows[:, None], i + 1 :, tok[:, None]] = -torch.inf  # no repeats within the step
        return torch.stack(picked, 1).to(logits.device), early


def self_pass_budgets(
    gazer: Any,
    clip: np.ndarray,
    sampler: Sampler,
    requirement_range: tuple[float, float] = SELF_PASS_REQUIREMENT,
    cap_ratio: float = SELF_PASS_RATIO,
) -> list[int]:
    """The reference's `self` per-frame budgets of one clip (T, H, W, 3): its real gazes per frame.

    One sampled gazing at the rollout temperature, with a per-frame cap of `int(cap_ratio * S)`
    and a task-loss requirement drawn uniformly from `requirement_range` (shared by all frames).
    """
    S = gazer.grid.num_slots
    low, high = requirement_range
    u = torch.rand((), generator=sampler.generator).item()
    requirement = low + (high - low) * u
    cap = max(1, int(cap_ratio * S))
    gaze = gazer.sample(clip[None], [cap] * clip.shape[0], sampler, task_loss_requirement=requirement)
    real = ~gaze.if_padded_gazing[0]
    return [int(real[gaze.frame_of_entry == t].sum()) for t in range(gaze.num_frames)]


def rollouts(
    gazer: Any,
    video: np.ndarray,
    group_size: int,
    sampler: Sampler,
    requirement_range: tuple[float, float] = SELF_PASS_REQUIREMENT,
) -> dict[str, torch.Tensor]:
    """G sampled rollouts per clip, each clip's budgets fixed by its `self` pass.

    Args:
        gazer: an `AutoGazeGazer`.
        video: uint8 (B, T, H, W, 3) clips.
        group_size: G.
        sampler: the draw rule (temperature, top-k, generator).
        requirement_range: the self pass's task-loss requirement range (the reference's suits
            VideoMAE's loss; a paint-rewarded gazer needs paint's lower losses).

    Returns:
        The official gaze dict of the G * B rollouts, clip-major (rows b*G .. b*G + G - 1 are clip
        b's): `gazing_pos`, `if_padded_gazing` (G*B, N), `num_gazing_each_frame` (T,), plus
        `budget` (B, T) int64, the self pass's budgets.
    """
    B, T = video.shape[:2]
    groups, budgets = [], []
    for b in range(B):
        budget = self_pass_budgets(gazer, video[b], sampler, requirement_range)
        group = gazer.sample(np.repeat(video[b : b + 1], group_size, 0), budget, sampler)
        groups.append(group)
        budgets.append(budget)
    return _stack_groups(groups, T) | {"budget": torch.tensor(budgets, dtype=torch.int64)}


def _stack_groups(groups: list, T: int) -> dict[str, torch.Tensor]:
    """Per-clip GazeResults (G rows each, own frame lengths) -> one dict padded to common frame lengths."""
    counts = torch.stack([g.num_gazing_each_frame for g in groups]).amax(0)  # (T,)
    S = groups[0].grid.num_slots
    pos, pad = [], []
    for g in groups:
        rows = g.gazing_pos.shape[0]
        gp = torch.full((rows, int(counts.sum())), 0, dtype=torch.int64)
        gpad = torch.ones_like(gp, dtype=torch.bool)
        start_in, start_out = 0, 0
        for t in range(T):
            n, m = int(g.num_gazing_each_frame[t]), int(counts[t])
            gp[:, start_out : start_out + n] = g.gazing_pos[:, start_in : start_in + n]
            gp[:, start_out + n : start_out + m] = S * (t + 1)  # the reference's pad id for frame t
            gpad[:, start_out : start_out + n] = g.if_padded_gazing[:, start_in : start_in + n]
            start_in, start_out = start_in + n, start_out + m
        pos.append(gp)
        pad.append(gpad)
    return {"gazing_pos": torch.cat(pos), "if_padded_gazing": torch.cat(pad), "num_gazing_each_frame": counts}
