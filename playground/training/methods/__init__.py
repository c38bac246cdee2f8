"""The training methods, registered by name: `ntp` (next-token prediction on labels) and `grpo`.

`METHODS` is the one registry: `TrainSettings.method`, `train_gazer(method=...)` and the CLI's
`train NAME` subcommands all read it. A new method: one file here with its `Method` subclass (and
its `MicroBatch`), plus its entry below.
"""

from .base import Method, MicroBatch
from .grpo import GRPO, RolloutBatch
from .ntp import NTP, LabelledBatch

METHODS: dict[str, Method] = {m.name: m for m in (NTP(), GRPO())}

__all__ = ["METHODS", "Method", "MicroBatch", "NTP", "GRPO", "LabelledBatch", "RolloutBatch"]
