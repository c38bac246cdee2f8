"""Writing gazing labels: gaze every training clip with a loss-measuring gazer and record its trace.

`write_labels` gazes each clip with a gazer whose loss trace is measured (`greedy` with the
`paint` loss on a CPU, `oracle` with a reconstructor on a GPU) and writes the official
`gazing_labels.json`: per frame, the clip-global ids in gaze order and the loss after each gaze.

The file is resumable: keys already in it are skipped, and it is rewritten atomically (a temporary
file, then a rename) after every few clips, so an interrupted run loses at most those. A clip that
cannot be read is one entry of the returned errors, not the end of the run. `workers > 1` gazes in
that many processes, each with its own gazer.

The per-clip work (read, gaze, row) and the process pool are the dataset's (`playground.dataset.job`
and `.engines`, which `gaze-dataset --labels` runs too); a label is `dataset.job.label_of` the row's gaze.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..clips import CLIP_LEN, SIZE, VideoClip
from ..dataset.engines import run_local
from ..dataset.job import ClipSettings, label_of_row, load_clip_gazer
from ..errors import check
from ..jsonio import write_json
from ..knobs import LABEL_GAZING_RATIO, LABEL_THRESHOLD
from ..video import READ_SIDE
from .labels import read_labels

SAVE_EVERY_S = 10.0  # rewrite the file at least this often while clips come in


@dataclass(frozen=True)
class LabelSettings:
    """How labels are made (every worker builds the same gazer from these)."""

    gazer: str = "greedy"
    reconstructor: str = "paint"
    gazing_ratio: float | None = LABEL_GAZING_RATIO
    threshold: float | None = LABEL_THRESHOLD
    size: int = SIZE
    clip_len: int = CLIP_LEN
    device: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # more load_gazer options


def clip_settings(settings: LabelSettings) -> ClipSettings:
    """The per-clip work of labelling: whole frames squashed to `size`, a gazer that measures its trace."""
    return ClipSettings(
        gazer=settings.gazer,
        gazing_ratio=settings.gazing_ratio,
        threshold=settings.threshold,
        clip_len=settings.clip_len,
        tile=None,
        size=settings.size,
        max_side=READ_SIDE,
        batch_size=1,
        reconstructor=None,
        measured=True,
        gazer_reconstructor=settings.reconstructor,
        device=settings.device,
        options=dict(settings.options),
    )


def load_label_gazer(settings: LabelSettings):
    """The gazer of `settings`, refused unless it measures its loss trace with that reconstructor."""
    return load_clip_gazer(clip_settings(settings))


# ---- the run: resume, workers, atomic rewrites ------------------------------------------------


def write_labels(
    clips: Sequence[VideoClip],
    out: Path,
    settings: LabelSettings,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Label every clip not yet in `out`; returns (all labels, errors).

    Args:
        clips: the clips (`clips.list_clips`).
        out: the labels file; read first if it exists (its keys are skipped), rewritten atomically.
        settings: the gazer and knobs.
        workers: processes gazing at once (1: in this process).
        progress: called as `progress(done, total)` after each clip.
    """
    out = Path(out)
    labels = read_labels(out) if out.exists() else {}
    todo = [c for c in clips if c.key not in labels]
    check(
        len({c.key for c in todo}) == len(todo),
        "two clips have the same labels key (the last three parts of their paths): rename or move one",
    )
    errors: list[dict[str, str]] = []
    last_save = time.monotonic()
    for done, result in enumerate(run_local(todo, clip_settings(settings), workers), 1):
        clip = result.clip
        if result.error is None:
            labels[clip.key] = label_of_row(result.rows[0])
        else:
            errors.append({"video": str(clip.path), "clip": clip.key, "error": result.error})
        if labels and time.monotonic() - last_save > SAVE_EVERY_S:
            write_json(labels, out)
            last_save = time.monotonic()
        if progress is not None:
            progress(done, len(todo))
    if labels:  # not one clip labelled: leave no file behind
        write_json(labels, out)
    return labels, errors


def summarize_labels(labels: dict[str, Any]) -> dict[str, float]:
    """Clips, mean gazes per frame and mean final loss of a labels dict (for the CLI's last line)."""
    counts = [len(f) for v in labels.values() for f in v["gazing_pos"]]
    finals = [f[-1] for v in labels.values() for f in v["task_losses"] if f]
    return {
        "clips": len(labels),
        "gazes_per_frame": float(np.mean(counts)) if counts else 0.0,
        "final_loss": float(np.mean(finals)) if finals else float("nan"),
    }
