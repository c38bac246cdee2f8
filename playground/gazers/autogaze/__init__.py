"""The AutoGaze gazer: loads a published checkpoint and gazes like the reference implementation.

What lives where:

- `loading`: `load_autogaze(name_or_path)` (hub id, folder or `.safetensors` file; strict checks
  through `playground.checkpoints`), `build_net`, `load_weights`.
- `preprocess`: `Preprocessor` (the published `AutoGazeImageProcessor`) and `frame_source`.
- `gazer`: `AutoGazeGazer` with `gaze` (clips, optional retargeting), `stream` (frame by frame,
  carrying the caches; `clip_len` restarts them) and `gaze_video`, which delegates to
- `whole_video`: `VideoGazer` (whole videos by `chunk_len`-frame chunks and square tiles) and its
  result `VideoGaze`, which maps the gazes back to the original frame's pixels.

The predicted loss (the task-loss head) is reported per gaze in `GazeResult.loss`: the entry of
a gaze is the model's prediction of the frame's reconstruction loss once that gaze is added
(see docs/autogaze.md). `GazeResult.frame_loss[b, t]` is that value at the frame's last real gaze.
"""

from .gazer import AutoGazeGazer
from .loading import CHECKPOINT_FILES, build_net, load_autogaze, load_weights
from .preprocess import DEFAULT_PREPROCESSOR, Preprocessor, frame_source
from .whole_video import CHUNK_LEN, PAD_RGB, VideoGaze, VideoGazer, pad_tiles, padded_tile_layout

__all__ = ["AutoGazeGazer", "load_autogaze", "build_net", "load_weights", "CHECKPOINT_FILES", "Preprocessor",
           "DEFAULT_PREPROCESSOR", "frame_source", "VideoGazer", "VideoGaze", "CHUNK_LEN", "PAD_RGB", "pad_tiles",
           "padded_tile_layout"]
