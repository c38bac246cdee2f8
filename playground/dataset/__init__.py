"""Gazing whole datasets: every clip of many videos into Parquet shards (`python -m playground gaze-dataset`).

What lives where:

- `inputs`: the videos that INPUTS name (folders, globs, text files of paths).
- `job`: the per-clip work that every run shares (read a clip, gaze its tiles, one row per tile),
  also behind `training.make_labels` and the `labels` command; `ClipSettings` says what a row means.
- `engines`: where clips are gazed: this process, a local process pool, or Ray Data.
- `shards`: the Parquet schema, whole-then-rename shard writes, reading rows and the clips done.
- `runner`: one run: skip the clips done, gaze the rest, write shards, errors, manifest and labels.

docs/datasets.md describes the files and the columns.
"""

from .inputs import find_inputs
from .job import ClipSettings, ClipWorker, label_of_row
from .runner import DatasetSummary, gaze_dataset
from .shards import SCHEMA, read_rows

__all__ = [
    "find_inputs",
    "ClipSettings",
    "ClipWorker",
    "label_of_row",
    "gaze_dataset",
    "DatasetSummary",
    "SCHEMA",
    "read_rows",
]
