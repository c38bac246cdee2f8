"""What a training method is to the trainer: a `Method` object and the `MicroBatch` it prepares.

A step of `trainer.Trainer` cuts its clips into micro-batches. For each, the method reads what it
needs (clips, labels or sampled rollouts) into a `MicroBatch`, before any loss is taken, so that the
loss normaliser can be summed over the whole global batch first; then `Method.loss` scores each
micro-batch with that normaliser. A new method is one file here (a `Method` subclass and its
`MicroBatch`) plus its entry in `METHODS` (`methods/__init__.py`).

Importing a method imports no torch: `train --help` lists the methods and their flags from `METHODS`
(`cli/train.py`), and a method's module imports what it runs with (clips, losses, torch) in the methods that run.

Shapes: B clips per micro-batch, T frames, H, W pixels.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the trainer imports the methods, not the other way round
    import numpy as np

    from ...clips import VideoClip
    from ..losses import TrainingLoss
    from ..trainer import Trainer, TrainSettings


@dataclass
class MicroBatch:
    """One micro-batch of a step, read and sampled, its loss not yet taken.

    Methods subclass it with what their loss needs (labels, rollouts, rebuilt frames' losses).
    """

    video: np.ndarray  # (B, T, H, W, 3) uint8 clips, as trained on (augmented where the method augments)
    rows: int  # loss rows: clips (NTP) or rollouts (GRPO, B x G)
    count: float  # this micro-batch's share of the loss normaliser, summed over the global batch
    metrics: dict[str, float] = field(default_factory=dict)  # per-row means to log, averaged over the global batch


class Method:
    """A training method: its defaults, its data, its micro-batches and their loss.

    `add_arguments` and `knobs` are the command line's view of the method (`cli/train.py` calls them):
    the flags of `train NAME` beyond the common ones, and the `TrainSettings` fields they set.
    """

    name: str = "method"
    help: str = ""  # one line for `train --help`
    batch_size: int = 2  # default clips per micro-batch
    optimizer: str = "adam"  # default optimiser: adam | sgd
    warmup: float = 0.0  # default fraction of the steps warming up

    def check(self, settings: "TrainSettings") -> None:
        """Refuse, in one line, settings this method cannot run (the common knobs are checked already)."""

    def data(self, settings: "TrainSettings") -> tuple[list[VideoClip], dict[str, Any] | None]:
        """The clips to train on and their labels (None: the method needs none); refused in one line."""
        raise NotImplementedError

    def start(self, trainer: "Trainer") -> None:
        """Load what the method needs beside the gazer (GRPO: the reward's reconstructor)."""

    def prepare(self, trainer: "Trainer", index: list[int]) -> MicroBatch:
        """Read (and sample) the micro-batch of clips `index`; draws come from `trainer.generator`."""
        raise NotImplementedError

    def loss(self, trainer: "Trainer", batch: MicroBatch, normalizer: float) -> TrainingLoss:
        """The micro-batch's loss, divided by `normalizer` (the global batch's mean count a row)."""
        raise NotImplementedError

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The method's own flags on `train NAME`."""

    def knobs(self, args: argparse.Namespace) -> dict[str, Any]:
        """The `TrainSettings` fields set by the method's own flags."""
        return {}
