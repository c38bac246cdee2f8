"""Training AutoGaze: labels, the teacher-forced pass, the NTP and GRPO losses, and the sampler.

What lives where:

- `labels`: the official `gazing_labels.json` format, `collate_labels` (the reference's collate)
  and `read_labels` (checked, one-line errors).
- `forward`: `teacher_forced`, the differentiable pass that scores given gaze sequences.
- `losses`: `ntp_loss` and `grpo_loss` -> `TrainingLoss`, as the reference computes them.
- `sampler`: `Sampler` (temperature + top-k draws of a decode step), the temperature schedule and
  `rollouts` (the `self` budget pass, then G sampled rollouts per clip).

AUTOGAZE_SPEC.md § 6 is the recipe; `tests/test_training.py` holds these against the reference's
outputs (losses, teacher-forced outputs and every parameter's gradient).
"""

from .forward import TeacherForced, teacher_forced
from .labels import collate_labels, read_labels
from .losses import DISCOUNT_FACTOR, TrainingLoss, grpo_loss, ntp_loss
from .sampler import Sampler, rollouts, temperature

__all__ = [
    "collate_labels",
    "read_labels",
    "teacher_forced",
    "TeacherForced",
    "ntp_loss",
    "grpo_loss",
    "TrainingLoss",
    "DISCOUNT_FACTOR",
    "Sampler",
    "rollouts",
    "temperature",
]
