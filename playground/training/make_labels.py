"""Writing gazing labels: gaze every training clip with a loss-measuring gazer and record its trace.

`write_labels` gazes each clip with a gazer whose loss trace is measured (`greedy` with the
`paint` loss on a CPU, `oracle` with a reconstructor on a GPU) and writes the official
`gazing_labels.json`: per frame, the clip-global ids in gaze order and the loss after each gaze.

The file is resumable: keys already in it are skipped, and it is rewritten atomically (a temporary
file, then a rename) after every few clips, so an interrupted run loses at most those. A clip that
cannot be read is one entry of the returned errors, not the end of the run. `workers > 1` gazes in
that many processes, each with its own gazer.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from ..errors import PlaygroundError, check
from ..gaze import GazeResult
from ..gazers import MEASURING_GAZERS, load_gazer
from ..jsonio import write_json
from .data import CLIP_LEN, SIZE, TrainingClip, read_training_clip
from .labels import read_labels

LABEL_GAZING_RATIO = 0.1  # the reference's example ratio (26 gazes a frame at most)
LABEL_THRESHOLD = 0.1  # a frame's labels stop once its loss is this low (None: spend the budget)
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


def load_label_gazer(settings: LabelSettings):
    """The gazer of `settings`, refused unless it measures its loss trace with that reconstructor."""
    name = settings.gazer.strip().lower()
    options = dict(settings.options)
    if name in MEASURING_GAZERS:
        options["reconstructor"] = settings.reconstructor
    else:
        check(settings.reconstructor == "paint",
              f"{settings.gazer} measures the paint loss only; use --gazer oracle for --reconstructor "
              f"{settings.reconstructor}")
    gazer = load_gazer(settings.gazer, device=settings.device, **options)
    check(gazer.loss_kind == "measured",
          f"{settings.gazer} does not measure the loss after each gaze (its loss is {gazer.loss_kind}); "
          "labels need a measured trace: use greedy (paint) or oracle")
    return gazer


def label_of(gaze: GazeResult, clip: int = 0) -> dict[str, list[list]]:
    """One clip of a gaze -> its label: per frame, global ids of the real gazes and the loss after each."""
    real = ~gaze.if_padded_gazing[clip]
    frame = gaze.frame_of_entry
    pos, losses = [], []
    for t in range(gaze.num_frames):
        keep = real & (frame == t)
        pos.append([int(i) for i in gaze.gazing_pos[clip, keep]])
        losses.append([round(float(v), 6) for v in gaze.loss[clip, keep]])
    return {"gazing_pos": pos, "task_losses": losses}


def label_clip(gazer, clip: TrainingClip, settings: LabelSettings) -> dict[str, list[list]]:
    """Read one clip and gaze it; its label."""
    frames = read_training_clip(clip, clip_len=settings.clip_len, size=settings.size)
    gaze = gazer.gaze(frames, gazing_ratio=settings.gazing_ratio, task_loss_requirement=settings.threshold)
    return label_of(gaze)


# ---- the run: resume, workers, atomic rewrites ------------------------------------------------


def write_labels(clips: Sequence[TrainingClip], out: Path, settings: LabelSettings, workers: int = 1,
                 progress: Callable[[int, int], None] | None = None) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Label every clip not yet in `out`; returns (all labels, errors).

    Args:
        clips: the clips (`data.list_clips`).
        out: the labels file; read first if it exists (its keys are skipped), rewritten atomically.
        settings: the gazer and knobs.
        workers: processes gazing at once (1: in this process).
        progress: called as `progress(done, total)` after each clip.
    """
    out = Path(out)
    labels = read_labels(out) if out.exists() else {}
    todo = [c for c in clips if c.key not in labels]
    check(len({c.key for c in todo}) == len(todo), "two clips have the same labels key (the last three "
          "parts of their paths): rename or move one")
    errors: list[dict[str, str]] = []
    last_save = time.monotonic()
    for done, (clip, label, error) in enumerate(_label_all(todo, settings, workers), 1):
        if error is None:
            labels[clip.key] = label
        else:
            errors.append({"video": str(clip.path), "clip": clip.key, "error": error})
        if time.monotonic() - last_save > SAVE_EVERY_S:
            write_json(labels, out)
            last_save = time.monotonic()
        if progress is not None:
            progress(done, len(todo))
    write_json(labels, out)
    return labels, errors


def _label_all(clips: Sequence[TrainingClip], settings: LabelSettings, workers: int
               ) -> Iterator[tuple[TrainingClip, dict | None, str | None]]:
    """(clip, label, None) or (clip, None, error) per clip, in this process or a pool."""
    if workers <= 1 or len(clips) <= 1:
        gazer = load_label_gazer(settings)
        for clip in clips:
            yield (clip, *_try_label(gazer, clip, settings))
        return
    load_label_gazer(settings)  # fail here, in one line, before any process starts
    context = multiprocessing.get_context("spawn")  # fork would copy torch's thread pools
    with context.Pool(min(workers, len(clips)), initializer=_init_worker, initargs=(settings,)) as pool:
        for clip, result in zip(clips, pool.imap(_worker_label, clips)):
            yield (clip, *result)


_WORKER: dict[str, Any] = {}


def _init_worker(settings: LabelSettings) -> None:
    torch.set_num_threads(1)  # the workers share the cores
    _WORKER["settings"] = settings
    _WORKER["gazer"] = load_label_gazer(settings)


def _worker_label(clip: TrainingClip) -> tuple[dict | None, str | None]:
    return _try_label(_WORKER["gazer"], clip, _WORKER["settings"])


def _try_label(gazer, clip: TrainingClip, settings: LabelSettings) -> tuple[dict | None, str | None]:
    try:
        return label_clip(gazer, clip, settings), None
    except PlaygroundError as exc:
        return None, str(exc)


def summarize(labels: dict[str, Any]) -> dict[str, float]:
    """Clips, mean gazes per frame and mean final loss of a labels dict (for the CLI's last line)."""
    counts = [len(f) for v in labels.values() for f in v["gazing_pos"]]
    finals = [f[-1] for v in labels.values() for f in v["task_losses"] if f]
    return {"clips": len(labels), "gazes_per_frame": float(np.mean(counts)) if counts else 0.0,
            "final_loss": float(np.mean(finals)) if finals else float("nan")}
