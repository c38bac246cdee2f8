"""The AutoGaze gazer: loads a published checkpoint and gazes like the reference implementation.

What lives where:

- `loading`: `load_autogaze(name_or_path)` (hub id, folder or `.safetensors` file; strict checks
  through `playground.checkpoints`), `build_net`, `load_weights`.
- `preprocess`: `Preprocessor` (the published `AutoGazeImageProcessor`) and `frame_source`.
- `gazer`: `AutoGazeGazer` with `gaze` (clips, optional retargeting) and `stream` (frame by frame,
  carrying the caches; `clip_len` restarts them). Whole videos (`gaze_video`, any length and size)
  are every gazer's: `playground.whole_video`.

The predicted loss (the task-loss head) is reported per gaze in `GazeResult.loss`: the entry of
a gaze is the model's prediction of the frame's reconstruction loss once that gaze is added
(see docs/autogaze.md). `GazeResult.frame_loss[b, t]` is that value at the frame's last real gaze.
"""

from .gazer import AutoGazeGazer
from .loading import CHECKPOINT_FILES, build_net, load_autogaze, load_weights
from .preprocess import DEFAULT_PREPROCESSOR, Preprocessor, frame_source

__all__ = [
    "AutoGazeGazer",
    "load_autogaze",
    "build_net",
    "load_weights",
    "CHECKPOINT_FILES",
    "Preprocessor",
    "DEFAULT_PREPROCESSOR",
    "frame_source",
]
