"""AutoGaze Playground: gaze at videos, rebuild them from the gazed patches, ask MLLMs about them.

The public verbs (used by the app, the notebooks, the CLI and the tests):

    gazer = load_gazer("greedy")                      # or "nvidia/AutoGaze", a folder, ...
    gaze = gazer.gaze(video, gazing_ratio=0.3, task_loss_requirement=0.7)   # -> GazeResult
    rec = load_reconstructor("paint").reconstruct(video, gaze)              # -> Reconstruction
    answer = load_mllm("HuggingFaceTB/SmolVLM2-256M-Video-Instruct").answer(video, "What happens?", gaze=gaze)
    checkpoint = train_gazer(method="ntp", labels="gazing_labels.json", videos=["clips/"], out="runs/ntp")
"""

from .errors import PlaygroundError
from .lazy import lazy_names

# The public names, imported on first use (PEP 562), so that `import playground` (and with it
# `python -m playground --help`) does not pay for torch until a verb is called.
_LAZY = {
    "MultiScaleGrid": "geometry",
    "DEFAULT_GRID": "geometry",
    "grid_for": "geometry",
    "GazeResult": "gaze",
    "concat_frames": "gaze",
    "available_gazers": "gazers",
    "load_gazer": "gazers",
    "Reconstruction": "reconstructors",
    "available_reconstructors": "reconstructors",
    "load_reconstructor": "reconstructors",
    "as_clips": "video",
}
__getattr__, __dir__ = lazy_names(__name__, _LAZY)


def load_mllm(name_or_path: str, device=None, **kwargs):
    """Load a video MLLM that can answer on all tokens or on gazed tokens (see `playground.mllm`)."""
    from .mllm import load_mllm as _load_mllm

    return _load_mllm(name_or_path, device=device, **kwargs)


def train_gazer(settings=None, resume=None, on_step=None, **knobs):
    """Train an AutoGaze gazer by NTP or GRPO into a run folder (see `playground.training.trainer`)."""
    from .training.trainer import train_gazer as _train_gazer

    return _train_gazer(settings, resume=resume, on_step=on_step, **knobs)


__all__ = [
    "PlaygroundError",
    "MultiScaleGrid",
    "DEFAULT_GRID",
    "grid_for",
    "GazeResult",
    "concat_frames",
    "load_gazer",
    "available_gazers",
    "load_reconstructor",
    "available_reconstructors",
    "Reconstruction",
    "load_mllm",
    "as_clips",
    "train_gazer",
]
__version__ = "0.1.0"
