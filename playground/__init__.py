"""AutoGaze Playground: gaze at videos, rebuild them from the gazed patches, ask MLLMs about them.

The public verbs (used by the app, the notebooks, the CLI and the tests):

    gazer = load_gazer("greedy")                      # or "nvidia/AutoGaze", a folder, ...
    gaze = gazer.gaze(video, gazing_ratio=0.3, task_loss_requirement=0.7)   # -> GazeResult
    rec = load_reconstructor("paint").reconstruct(video, gaze)              # -> Reconstruction
    answer = load_mllm("HuggingFaceTB/SmolVLM2-256M-Video-Instruct").answer(video, "What happens?", gaze=gaze)
    checkpoint = train_gazer(method="ntp", labels="gazing_labels.json", videos=["clips/"], out="runs/ntp")
"""

from .errors import PlaygroundError
from .geometry import DEFAULT_GRID, MultiScaleGrid, grid_for
from .gaze import GazeResult, concat_frames
from .gazers import available_gazers, load_gazer
from .reconstructors import Reconstruction, available_reconstructors, load_reconstructor
from .video import as_clips


def load_mllm(name_or_path: str, device=None, **kwargs):
    """Load a video MLLM that can answer on all tokens or on gazed tokens (see `playground.mllm`)."""
    from .mllm import load_mllm as _load_mllm

    return _load_mllm(name_or_path, device=device, **kwargs)


def train_gazer(settings=None, resume=None, on_step=None, **knobs):
    """Train an AutoGaze gazer by NTP or GRPO into a run folder (see `playground.training.trainer`)."""
    from .training.trainer import train_gazer as _train_gazer

    return _train_gazer(settings, resume=resume, on_step=on_step, **knobs)


__all__ = ["PlaygroundError", "MultiScaleGrid", "DEFAULT_GRID", "grid_for", "GazeResult", "concat_frames",
           "load_gazer", "available_gazers", "load_reconstructor", "available_reconstructors",
           "Reconstruction", "load_mllm", "as_clips", "train_gazer"]
__version__ = "0.1.0"
