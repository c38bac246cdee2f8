"""Gazing labels: the official `gazing_labels.json` format, its collate, and reading it safely.

A labels file is one JSON object (AUTOGAZE_SPEC.md § 6.1):

    {"<last three parts of the clip's path>": {"gazing_pos": [[ids of frame 0], ...],
                                                "task_losses": [[loss after each gaze of frame 0], ...]}}

Ids are clip-global (`S * t + local id`); `task_losses[t][k]` is frame t's reconstruction loss once
its first k + 1 gazes are in (the target of the task-loss head at that gaze). Labels are written by
`dataset.job.label_of` (from a gaze whose loss trace is measured); keys are `clips.clip_key`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import torch

from ..errors import check
from ..jsonio import read_json

PAD_ID = -1  # the collate's padding id (the reference's)


def collate_labels(labels: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Batch labels as the reference's `process_gazing_info` does.

    Every frame is padded to the batch's longest frame plus one slot (the EOS slot) with id -1,
    and the frame's last task loss is repeated over its pads.

    Args:
        labels: B entries `{"gazing_pos": [[...] * T], "task_losses": [[...] * T]}`, the same T.

    Returns:
        `gazing_pos` (B, N) int64 (-1 = pad), `if_padded_gazing` (B, N) bool,
        `num_gazing_each_frame` (T,) int64, `task_losses` (B, N) float32, with N = sum of the counts.
    """
    check(len(labels) > 0, "collate_labels needs at least one label")
    frames = [check_label(label, f"label {i}") for i, label in enumerate(labels)]
    T = len(frames[0][0])
    check(
        all(len(pos) == T for pos, _ in frames),
        f"labels of one batch must have the same number of frames, got {sorted({len(p) for p, _ in frames})}",
    )
    counts = [max(len(pos[t]) for pos, _ in frames) + 1 for t in range(T)]
    gazing_pos, losses = [], []
    for pos, loss in frames:
        row_pos, row_loss = [], []
        for t in range(T):
            pad = counts[t] - len(pos[t])
            last = loss[t][-1] if loss[t] else 0.0
            row_pos += list(pos[t]) + [PAD_ID] * pad
            row_loss += list(loss[t]) + [last] * pad
        gazing_pos.append(row_pos)
        losses.append(row_loss)
    gazing_pos_t = torch.tensor(gazing_pos, dtype=torch.int64)
    return {
        "gazing_pos": gazing_pos_t,
        "if_padded_gazing": gazing_pos_t == PAD_ID,
        "num_gazing_each_frame": torch.tensor(counts, dtype=torch.int64),
        "task_losses": torch.tensor(losses, dtype=torch.float32),
    }


def check_label(label: Any, where: str, num_slots: int = 265) -> tuple[list[list[int]], list[list[float]]]:
    """One label's per-frame ids and losses, or a one-line PlaygroundError saying what is wrong."""
    check(
        isinstance(label, dict) and "gazing_pos" in label and "task_losses" in label,
        f"{where} must be an object with 'gazing_pos' and 'task_losses'",
    )
    pos, loss = label["gazing_pos"], label["task_losses"]
    check(
        isinstance(pos, list) and isinstance(loss, list) and len(pos) == len(loss) and pos,
        f"{where}: gazing_pos and task_losses must be lists with one entry per frame",
    )
    for t, (ids, values) in enumerate(zip(pos, loss)):
        check(
            isinstance(ids, list) and isinstance(values, list) and len(ids) == len(values),
            f"{where}, frame {t}: gazing_pos and task_losses must have one entry per gaze",
        )
        for i in ids:
            check(
                isinstance(i, int) and not isinstance(i, bool) and num_slots * t <= i < num_slots * (t + 1),
                f"{where}, frame {t}: id {i!r} is not a clip-global id of frame {t} "
                f"({num_slots * t}..{num_slots * (t + 1) - 1})",
            )
        check(len(set(ids)) == len(ids), f"{where}, frame {t}: an id is repeated")
        for v in values:
            check(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
                f"{where}, frame {t}: task loss {v!r} is not a finite number",
            )
    return pos, loss


def read_labels(path: str | Path, num_slots: int = 265) -> dict[str, dict[str, Any]]:
    """Read and check a labels file; a one-line PlaygroundError for anything malformed."""
    path = Path(path)
    data = read_json(path, "labels file", want_object=False)
    check(isinstance(data, dict), f"{path} must hold one JSON object keyed by clip")
    for key, label in data.items():
        check_label(label, f"{path.name}[{key!r}]", num_slots)
    return data
