"""The training losses of AutoGaze: next-token prediction (NTP) and GRPO, as the reference computes them.

Both score gaze sequences with the teacher-forced pass (`forward.teacher_forced`) and train the
task-loss head beside the gaze head (AUTOGAZE_SPEC.md § 6.3 and § 6.4):

- `ntp_loss`: the negative log-likelihood of labelled gazes (from `collate_labels`) plus the squared
  error of the head's predicted loss against the labelled loss after each gaze.
- `grpo_loss`: one on-policy policy-gradient step on G sampled rollouts per clip, rewarded by the
  negative reconstruction loss of a few rebuilt frames, with group-relative, discounted advantages;
  the head learns the rebuilt frames' measured loss at each one's last real gaze.

Shapes: B clips, G rollouts per clip, N gaze entries, T frames, R rebuilt frames per rollout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..errors import check
from .forward import TeacherForced, teacher_forced

Scorer = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], TeacherForced]

DISCOUNT_FACTOR = 0.995  # the reference's GRPO discount per gaze
NORM_EPS = 1e-6  # the reference's (mask.sum() / B + 1e-6)


@dataclass
class TrainingLoss:
    """A training loss and what it was computed from."""

    loss: torch.Tensor  # () differentiable: mean over clips (rows) of the sum of the terms
    terms: dict[str, torch.Tensor]  # each (rows,): e.g. ntp_loss / grpo_loss and task_loss_prediction_loss
    log_action_probs: torch.Tensor  # (rows, N) teacher-forced log(p + 1e-8) of each fed gaze
    task_loss_prediction: torch.Tensor  # (rows, N) the head's predicted loss after each gaze
    extras: dict[str, torch.Tensor] = field(default_factory=dict)  # GRPO: reward, traj_len, targets


def _video(gazer: Any, video: Any) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) array/tensor -> normalised (B, T, 3, H, W) on the gazer's device."""
    if isinstance(video, torch.Tensor):
        video = video.detach().cpu().numpy()
    video = np.asarray(video)
    check(
        video.dtype == np.uint8 and video.ndim == 5 and video.shape[-1] == 3,
        f"training video must be uint8 (B, T, H, W, 3), got {video.dtype} {tuple(video.shape)}",
    )
    return gazer.preprocess(video).to(gazer.device)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor, normalizer: float | None = None) -> torch.Tensor:
    """(rows, N) -> (rows,): sum of values over the mask, over the mean mask count per row.

    `normalizer` replaces that mean count (a trainer passes the whole global batch's, so that
    gradient accumulation and DDP give the step of one pass over the concatenated batch).
    """
    mean_count = mask.sum() / mask.shape[0] if normalizer is None else normalizer
    return (values * mask).sum(1) / (mean_count + NORM_EPS)


def _scorer(gazer: Any, scorer: Scorer | None) -> Scorer:
    if scorer is not None:
        return scorer
    return lambda *args: teacher_forced(gazer.net, *args)


def ntp_loss(
    gazer: Any,
    video: Any,
    batch: dict[str, torch.Tensor],
    *,
    normalizer: float | None = None,
    scorer: Scorer | None = None,
    head_weight: float = 1.0,
) -> TrainingLoss:
    """Next-token prediction on labelled gazes (the reference's `NTP(optimize_task_loss_prediction=True)`).

    Args:
        gazer: an `AutoGazeGazer` (its model receives gradients).
        video: uint8 (B, T, H, W, 3) clips of the labels.
        batch: `collate_labels` output for the same B clips.
        normalizer: the mean number of real entries per clip to divide by (default: this batch's).
        scorer: the teacher-forced pass to use (default `teacher_forced` on `gazer.net`; a trainer
            passes its DDP-wrapped `TeacherForcedModule`).
        head_weight: the task-loss head's term is multiplied by this in the total (1: the reference's
            plain sum). Paint's losses (0.05-0.6) make the head's squared error ~100x smaller than the
            cross-entropy, so at 1 the head learns a loss-by-step curve and little of the clip's content.

    Returns:
        `TrainingLoss` with terms `ntp_loss` and `task_loss_prediction_loss` (B,), unweighted.
    """
    x = _video(gazer, video)
    pad = batch["if_padded_gazing"].to(gazer.device, torch.bool)
    check(x.shape[0] == pad.shape[0], f"{x.shape[0]} clips but labels for {pad.shape[0]}")
    check(
        x.shape[1] == len(batch["num_gazing_each_frame"]),
        f"the clips have {x.shape[1]} frames but the labels {len(batch['num_gazing_each_frame'])}",
    )
    out = _scorer(gazer, scorer)(x, batch["gazing_pos"].to(gazer.device), pad, batch["num_gazing_each_frame"])
    mask = (~pad).float()
    target = batch["task_losses"].to(gazer.device, torch.float32)
    terms = {
        "ntp_loss": -_masked_mean(out.log_action_probs, mask, normalizer),
        "task_loss_prediction_loss": _masked_mean((out.task_loss_prediction - target) ** 2, mask, normalizer),
    }
    total = terms["ntp_loss"] + head_weight * terms["task_loss_prediction_loss"]
    return TrainingLoss(total.mean(), terms, out.log_action_probs, out.task_loss_prediction)


def reward_steps(num_gazing_each_frame: torch.Tensor, frames_rebuilt: Sequence[int]) -> torch.Tensor:
    """(R,) int64 `traj_len` of each reward: the entries up to and including its rebuilt frame."""
    ends = torch.cumsum(num_gazing_each_frame.to(torch.int64), 0)
    return ends[torch.as_tensor(list(frames_rebuilt), dtype=torch.int64)]


def discounted_advantages(
    advantage: torch.Tensor, pad: torch.Tensor, traj_len: torch.Tensor, discount_factor: float
) -> torch.Tensor:
    """Spread each reward's advantage over the gazes before it, discounted by distance.

    Args:
        advantage: (rows, R) group-relative advantage of each reward.
        pad: (rows, N) bool padding.
        traj_len: (R,) entries before each reward.

    Returns:
        (rows, N): sum over rewards of `advantage * discount^d` for real entries before the reward,
        d = real entries from this one to the reward, minus one; 0 elsewhere.
    """
    real = (~pad).to(advantage.dtype)
    N = pad.shape[1]
    # after[b, j] = real entries from j to the end; real entries in [j, tau) = after[j] - after[tau].
    after = torch.flip(torch.cumsum(torch.flip(real, [1]), 1), [1])
    after = torch.cat([after, torch.zeros_like(after[:, :1])], 1)
    out = torch.zeros_like(real)
    steps = torch.arange(N, device=pad.device)
    for r, tau in enumerate(traj_len.tolist()):
        d = after[:, :N] - after[:, tau : tau + 1] - 1
        before = (steps < tau)[None] & (real > 0)
        out = out + torch.where(before, advantage[:, r : r + 1] * discount_factor ** d.clamp(min=0), 0.0)
    return out


def last_real_gaze(pad: torch.Tensor, num_gazing_each_frame: torch.Tensor, frames: Sequence[int]) -> torch.Tensor:
    """(rows, N) bool: the last real entry of each of `frames` (the next entry is a pad or ends the frame)."""
    counts = num_gazing_each_frame.to(torch.int64).tolist()
    ends = np.cumsum(counts)
    next_pad = torch.cat([pad[:, 1:], torch.ones_like(pad[:, :1])], 1)
    ends_frame = torch.zeros(pad.shape[1], dtype=torch.bool, device=pad.device)
    ends_frame[torch.as_tensor(ends - 1, device=pad.device)] = True
    in_frames = torch.zeros_like(ends_frame)
    for f in frames:
        in_frames[int(ends[f] - counts[f]) : int(ends[f])] = True
    return (next_pad | ends_frame[None]) & ~pad & in_frames[None]


def grpo_loss(
    gazer: Any,
    video: Any,
    rollouts: dict[str, torch.Tensor],
    frames_rebuilt: Sequence[int],
    reconstruction_loss: torch.Tensor,
    group_size: int,
    discount_factor: float = DISCOUNT_FACTOR,
    *,
    normalizer: float | None = None,
    scorer: Scorer | None = None,
) -> TrainingLoss:
    """One GRPO step's loss (the reference's `GRPO(optimize_task_loss_prediction=True)`).

    Args:
        gazer: an `AutoGazeGazer` (its model receives gradients).
        video: uint8 (B, T, H, W, 3) clips; clip b's rollouts are rows b*G .. b*G + G - 1.
        rollouts: the official gaze dict of the G*B rollouts: `gazing_pos` (G*B, N),
            `if_padded_gazing` (G*B, N), `num_gazing_each_frame` (T,).
        frames_rebuilt: the R frames whose reconstruction gave the rewards, in reward order.
        reconstruction_loss: (G*B, R) the reconstructor's loss of each rebuilt frame.
        group_size: G.
        discount_factor: per-gaze discount of an advantage before its reward.
        normalizer: the mean number of head targets per rollout to divide by (default: this batch's).
        scorer: the teacher-forced pass to use (as in `ntp_loss`).

    Returns:
        `TrainingLoss` with terms `grpo_loss` and `task_loss_prediction_loss` (G*B,), and extras
        `reward` (G*B, R), `traj_len_each_reward` (R,), `advantages` (G*B, N), `task_losses` and
        `task_losses_mask` (G*B, N), the head's targets.
    """
    x = _video(gazer, video)
    G = int(group_size)
    pad = rollouts["if_padded_gazing"].to(gazer.device, torch.bool)
    rows = pad.shape[0]
    check(G >= 1 and rows == G * x.shape[0], f"{rows} rollouts for {x.shape[0]} clips in groups of {G}")
    counts = rollouts["num_gazing_each_frame"]
    frames = [int(f) for f in frames_rebuilt]
    T = len(counts)
    check(x.shape[1] == T, f"the clips have {x.shape[1]} frames but the rollouts {T}")
    check(all(0 <= f < T for f in frames), f"frames_rebuilt {frames} must lie in 0..{T - 1}")
    recon = torch.as_tensor(reconstruction_loss, dtype=torch.float32, device=gazer.device)
    check(
        tuple(recon.shape) == (rows, len(frames)),
        f"reconstruction_loss must be ({rows}, {len(frames)}), got {tuple(recon.shape)}",
    )
    out = _scorer(gazer, scorer)(x.repeat_interleave(G, 0), rollouts["gazing_pos"].to(gazer.device), pad, counts)
    reward = -recon
    group_mean = reward.view(-1, G, reward.shape[1]).mean(1, keepdim=True)
    advantage = (reward.view(-1, G, reward.shape[1]) - group_mean).view_as(reward)
    traj_len = reward_steps(counts, frames).to(gazer.device)
    steps = discounted_advantages(advantage, pad, traj_len, discount_factor)
    ratio = torch.exp(out.log_action_probs - out.log_action_probs.detach())
    target = torch.zeros_like(out.task_loss_prediction)
    target_mask = torch.zeros_like(target)
    frame_of = torch.repeat_interleave(torch.arange(T, device=gazer.device), counts.to(gazer.device))
    last = last_real_gaze(pad, counts, frames)
    for r, f in enumerate(frames):
        here = last & (frame_of == f)[None]
        target = torch.where(here, recon[:, r : r + 1], target)
        target_mask = torch.where(here, 1.0, target_mask)
    terms = {
        "grpo_loss": -(ratio * steps).sum(1),
        "task_loss_prediction_loss": _masked_mean((out.task_loss_prediction - target) ** 2, target_mask, normalizer),
    }
    extras = {
        "reward": reward,
        "traj_len_each_reward": traj_len,
        "advantages": steps,
        "task_losses": target,
        "task_losses_mask": target_mask,
    }
    return TrainingLoss(sum(terms.values()).mean(), terms, out.log_action_probs, out.task_loss_prediction, extras)
