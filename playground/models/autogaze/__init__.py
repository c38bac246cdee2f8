"""AutoGaze's gaze model in plain PyTorch, one module per part:

config    `AutoGazeConfig` (parsed from a checkpoint's `config.json`), `DefaultKnob`
modules   the weight-holding modules, named as the checkpoint's keys (`GazingModel`)
layers    the decoder layer math, written once (RMSNorm, rotary, projections, attention,
          MLP): inference and the teacher-forced training pass both run it
net       `AutoGazeNet`: the checkpoint plus `encode`, `decode`, the heads, the fused weights
cache     `KVCache` and `StaticStep` (the fixed-shape decode step, a CUDA graph on CUDA)
session   `GazeSession` (greedy decoding one frame at a time), `FrameGaze`, `greedy_pick`
"""

from .cache import KVCache, StaticStep
from .config import AutoGazeConfig, DefaultKnob
from .layers import llama3_inv_freq
from .net import AutoGazeNet
from .session import FrameGaze, GazeSession, greedy_pick, last_real

__all__ = [
    "AutoGazeConfig",
    "AutoGazeNet",
    "DefaultKnob",
    "FrameGaze",
    "GazeSession",
    "KVCache",
    "StaticStep",
    "greedy_pick",
    "last_real",
    "llama3_inv_freq",
]
