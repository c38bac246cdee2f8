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

from ..lazy import lazy_names

# The names below, imported on first use (PEP 562), so that `training.methods` (which `train --help` reads)
# does not import torch with this package.
_LAZY = {
    "TeacherForced": "forward",
    "teacher_forced": "forward",
    "collate_labels": "labels",
    "read_labels": "labels",
    "DISCOUNT_FACTOR": "losses",
    "TrainingLoss": "losses",
    "grpo_loss": "losses",
    "ntp_loss": "losses",
    "Sampler": "sampler",
    "rollouts": "sampler",
    "temperature": "sampler",
}
__getattr__, __dir__ = lazy_names(__name__, _LAZY)


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
