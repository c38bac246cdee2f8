"""NTP: next-token prediction on gazing labels (the reference's `NTP(optimize_task_loss_prediction=True)`).

The clips are the labelled ones (`gazing_labels.json`, from `python -m playground labels`), each
matched to its video; a micro-batch is B clips and their collated labels; the loss is `ntp_loss`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import PlaygroundError, check
from .base import Method, MicroBatch

if TYPE_CHECKING:  # what runs is imported where it runs: importing the method imports no torch (`base`)
    import torch

    from ...clips import VideoClip
    from ..losses import TrainingLoss
    from ..trainer import Trainer, TrainSettings


@dataclass
class LabelledBatch(MicroBatch):
    """B clips and their labels (`collate_labels`: gazing_pos, if_padded_gazing, task_losses, ...)."""

    labels: dict[str, torch.Tensor] | None = None


class NTP(Method):
    name = "ntp"
    help = "next-token prediction on gazing labels"
    batch_size = 2
    optimizer = "adam"
    warmup = 0.0

    def check(self, settings: "TrainSettings") -> None:
        check(settings.labels is not None, "NTP trains on labels: give --labels gazing_labels.json")

    def data(self, settings: "TrainSettings") -> tuple[list[VideoClip], dict[str, Any]]:
        """The labelled clips, each matched to its video; one line for labels without a video."""
        from ...clips import VideoClip, find_videos, label_key, split_key
        from ..labels import read_labels

        labels = read_labels(settings.labels)
        check(len(labels) > 0, f"{settings.labels} holds no labels")
        lengths = {len(v["gazing_pos"]) for v in labels.values()}
        check(len(lengths) == 1, f"{settings.labels} mixes clips of {sorted(lengths)} frames; one length per file")
        videos = {}
        for path in find_videos(settings.videos):
            videos.setdefault(label_key(path), path)
        clips, missing = [], []
        for key in labels:
            base, start = split_key(key)
            if base not in videos:
                missing.append(key)
                continue
            clips.append(VideoClip(videos[base], start, key))
        check(
            not missing,
            f"{len(missing)} labelled clips have no video under {', '.join(settings.videos)} "
            f"(first: {missing[0] if missing else ''}); labels key = the last three parts of the path",
        )
        _check_readable(clips, lengths.pop())
        return clips, labels

    def prepare(self, trainer: "Trainer", index: list[int]) -> LabelledBatch:
        from ..labels import collate_labels

        batch = collate_labels([trainer.labels[trainer.clips[i].key] for i in index])
        real = ~batch["if_padded_gazing"]
        tokens = float(real.sum()) / (len(index) * len(batch["num_gazing_each_frame"]))
        return LabelledBatch(
            trainer.read(index), rows=len(index), count=float(real.sum()), metrics={"tokens": tokens}, labels=batch
        )

    def loss(self, trainer: "Trainer", batch: LabelledBatch, normalizer: float) -> TrainingLoss:
        from ..losses import ntp_loss

        return ntp_loss(
            trainer.gazer,
            batch.video,
            batch.labels,
            normalizer=normalizer,
            scorer=trainer.scorer,
            head_weight=trainer.settings.head_weight,
        )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--labels", required=False, help="gazing_labels.json (from `python -m playground labels`)")
        parser.add_argument(
            "--config", default="tiny", help="a fresh model's size: micro | tiny | full | a config.json (default tiny)"
        )
        parser.add_argument("--init", default=None, help="start from this checkpoint instead of a fresh model")
        parser.add_argument(
            "--head-weight",
            type=float,
            default=1.0,
            help="weight of the task-loss head's squared error in the loss (default 1: the reference's sum)",
        )

    def knobs(self, args: argparse.Namespace) -> dict[str, Any]:
        return {"labels": args.labels, "config": args.config, "init": args.init, "head_weight": args.head_weight}


def _check_readable(clips: list[VideoClip], clip_len: int) -> None:
    """Every clip's video holds its frames (header only, once a video): a bad set fails before any step."""
    from ...clips import frame_count

    counts: dict[Path, int] = {}
    for clip in clips:
        if clip.path not in counts:
            try:
                counts[clip.path] = frame_count(clip.path)
            except PlaygroundError as exc:
                raise PlaygroundError(f"cannot train on {clip.key}: {exc}") from None
        frames = counts[clip.path]
        check(
            frames >= clip.start + clip_len,
            f"{clip.key}: the labels have {clip_len} frames from frame {clip.start}, the video has {frames}",
        )
