"""GRPO: one on-policy policy-gradient step with a reconstruction reward (the reference's
`GRPO(group_size=12, discount_factor=0.995, optimize_task_loss_prediction=True)`).

A micro-batch is B clips (augmented unless `augment` is off), G rollouts of each sampled by the
gazer in training (`sampler.rollouts`), and the reward's reconstructor's loss on a few random
frames of each rollout; the loss is `grpo_loss`.

Shapes: B clips, G rollouts per clip, T frames, N gaze entries, R rebuilt frames per rollout.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import check
from ...knobs import CLIP_CHOICES, CLIP_LEN, SELF_PASS_REQUIREMENT, TEMPERATURE, TOP_K
from .base import Method, MicroBatch

if TYPE_CHECKING:  # what runs is imported where it runs: importing the method imports no torch (`base`)
    import numpy as np
    import torch

    from ...clips import VideoClip
    from ..losses import TrainingLoss
    from ..trainer import Trainer, TrainSettings

REBUILT_FRACTION = 0.125  # GRPO rebuilds int(T * 0.125) frames of each rollout (2 of 16)


@dataclass
class RolloutBatch(MicroBatch):
    """B clips, their B x G sampled rollouts and the reconstructor's loss of the rebuilt frames."""

    rollouts: dict[str, torch.Tensor] = field(
        default_factory=dict
    )  # gazing_pos, if_padded_gazing (B*G, N), num_gazing_each_frame (T,)
    frames: list[int] = field(default_factory=list)  # the R rebuilt frames, in draw order
    reconstruction_loss: torch.Tensor | None = None  # (B*G, R) the reward is minus it


class GRPO(Method):
    name = "grpo"
    help = "GRPO with a reconstruction reward, from a trained gazer"
    batch_size = 1
    optimizer = "sgd"  # the reference trainer's default
    warmup = 0.1

    def check(self, settings: "TrainSettings") -> None:
        check(settings.init is not None, "GRPO starts from a trained gazer: give --init CHECKPOINT (e.g. an NTP run's)")
        check(settings.group_size >= 2, "GRPO needs a group of at least 2 rollouts per clip")

    def data(self, settings: "TrainSettings") -> tuple[list[VideoClip], None]:
        from ...clips import find_videos, list_clips

        clips, errors = list_clips(find_videos(settings.videos), settings.clips, settings.clip_len)
        check(not errors, f"{len(errors)} videos cannot be trained on: {errors[0]['error'] if errors else ''}")
        return clips, None

    def start(self, trainer: "Trainer") -> None:
        from ...reconstructors import load_reconstructor

        trainer.reconstructor = load_reconstructor(trainer.settings.reconstructor, device=trainer.world.device)

    def prepare(self, trainer: "Trainer", index: list[int]) -> RolloutBatch:
        import numpy as np
        import torch

        from ..data import augment
        from ..sampler import Sampler, rollouts, temperature

        s = trainer.settings
        video = trainer.read(index)
        if s.augment:
            video = np.stack([augment(c, trainer.generator) for c in video])
        T = video.shape[1]
        temp = temperature(trainer.step, s.steps, s.temperature_start, s.temperature_end)
        sampler = Sampler(temp, s.top_k, trainer.generator)
        trainer.gazer.net.eval()
        out = rollouts(trainer.gazer, video, s.group_size, sampler, s.self_requirement)
        trainer.gazer.net.train()
        frames = torch.randperm(T, generator=trainer.generator)[: max(1, int(T * REBUILT_FRACTION))].tolist()
        recon = _reconstruction_loss(trainer, np.repeat(video, s.group_size, 0), out, frames)
        real = ~out["if_padded_gazing"]
        rows = real.shape[0]
        metrics = {"tokens": float(real.sum()) / (rows * T), "reward": -float(recon.mean()), "temperature": temp}
        return RolloutBatch(
            video,
            rows=rows,
            count=float(len(frames) * rows),
            metrics=metrics,
            rollouts={k: out[k] for k in ("gazing_pos", "if_padded_gazing", "num_gazing_each_frame")},
            frames=frames,
            reconstruction_loss=recon,
        )

    def loss(self, trainer: "Trainer", batch: RolloutBatch, normalizer: float) -> TrainingLoss:
        from ..losses import grpo_loss

        s = trainer.settings
        return grpo_loss(
            trainer.gazer,
            batch.video,
            batch.rollouts,
            batch.frames,
            batch.reconstruction_loss,
            s.group_size,
            s.discount_factor,
            normalizer=normalizer,
            scorer=trainer.scorer,
        )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from ...cli.args import nonnegative_int, whole_number_arg  # argparse types: only the CLI calls this

        p = parser
        p.add_argument("--init", default=None, help="the gazer to improve: a checkpoint or a run folder (required)")
        p.add_argument(
            "--reconstructor", default="paint", help="the reward's reconstructor: paint | a VideoMAE checkpoint"
        )
        p.add_argument(
            "--group-size", type=whole_number_arg(2, 1024), default=12, help="rollouts per clip (default 12)"
        )
        p.add_argument(
            "--discount", type=float, default=0.995, help="per-gaze discount of the advantages (default 0.995)"
        )
        p.add_argument(
            "--temperature",
            type=float,
            nargs=2,
            default=TEMPERATURE,
            metavar=("START", "END"),
            help=f"rollout temperature, decaying exponentially (default {TEMPERATURE[0]:g} {TEMPERATURE[1]:g})",
        )
        p.add_argument(
            "--top-k", type=nonnegative_int, default=TOP_K, help=f"sample among the k best ids (default {TOP_K})"
        )
        p.add_argument(
            "--self-requirement",
            type=float,
            nargs=2,
            default=SELF_PASS_REQUIREMENT,
            metavar=("LOW", "HIGH"),
            help="the budget pass's task-loss requirement range (default "
            f"{SELF_PASS_REQUIREMENT[0]:g} {SELF_PASS_REQUIREMENT[1]:g}, VideoMAE's scale)",
        )
        p.add_argument("--clips", choices=CLIP_CHOICES, default="all", help="clips of each video (default all)")
        p.add_argument(
            "--clip-len", type=whole_number_arg(1, 1024), default=CLIP_LEN, help=f"frames per clip (default {CLIP_LEN})"
        )
        p.add_argument("--no-augment", action="store_true", help="no random crops and flips")

    def knobs(self, args: argparse.Namespace) -> dict[str, Any]:
        start, end = args.temperature
        return {
            "init": args.init,
            "reconstructor": args.reconstructor,
            "group_size": args.group_size,
            "discount_factor": args.discount,
            "temperature_start": start,
            "temperature_end": end,
            "top_k": args.top_k,
            "self_requirement": tuple(args.self_requirement),
            "clips": args.clips,
            "augment": not args.no_augment,
            "clip_len": args.clip_len,
        }


def _reconstruction_loss(
    trainer: "Trainer", video: np.ndarray, gaze: dict[str, torch.Tensor], frames: list[int]
) -> torch.Tensor:
    """(rows, R) the reconstructor's loss of each rebuilt frame, in `frames`' order."""
    import torch

    from ...gaze import GazeResult

    result = GazeResult.from_official(gaze, grid=trainer.gazer.grid)
    with torch.no_grad():
        rec = trainer.reconstructor.reconstruct(video, result, frames=sorted(frames))
    where = {int(f): i for i, f in enumerate(rec.frame_indices.tolist())}
    return rec.loss[:, [where[f] for f in frames]].float()
