"""A run's numbers, computed and written once: per-frame metrics, the mean PSNR, totals, metrics.csv.

The CLI, the app's exports and summaries, `explore` and `Reconstruction.summary` all come here,
so one quantity has one definition everywhere:

- PSNR is averaged over the frames whose rebuild is not exact (finite dB); exact frames (inf dB)
  are counted and said, not averaged in. A run whose every frame is exact reads "exact".
- `metrics.csv` has one column set for every run, whole-frame or tiled (`metrics_columns`): one row per
  rebuilt frame (`metrics_rows`: slots summed over the tiles, per scale too; losses, PSNR and SSIM averaged
  over them), a blank cell where a run does not measure a column (SSIM with tiles, the kind of gazer loss a
  gazer does not give), written by `MetricsCsv` as the chunks pass. `totals` are a whole-frame run's headline
  numbers; `loss_check` (the gazer's and the measured loss, the frames over the threshold) joins every
  run's. `gaze.json`, whole-frame or tiled, is written by `video_run.GazeJson` in one schema.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch


def mean_psnr(psnr: torch.Tensor | np.ndarray) -> float:
    """Mean PSNR in dB over the finite values; exact frames (inf) are left out; all exact gives inf."""
    values = torch.as_tensor(psnr).flatten().float()
    finite = values[torch.isfinite(values)]
    return float(finite.mean()) if finite.numel() else float("inf")


def exact_frames(psnr: torch.Tensor | np.ndarray) -> int:
    """How many frames were rebuilt exactly (PSNR inf)."""
    return int(torch.isinf(torch.as_tensor(psnr).float()).sum())


def psnr_text(psnr: torch.Tensor | np.ndarray) -> str:
    """The mean PSNR as people read it: '24.41 dB', '24.41 dB (2 of 16 frames exact)' or 'exact (inf dB)'."""
    return psnr_words(mean_psnr(psnr), exact_frames(psnr), torch.as_tensor(psnr).numel())


def psnr_words(mean: float | None, exact: int, total: int) -> str:
    """`psnr_text` from a run's totals: the mean in dB (None or inf: every frame exact), exact of total frames."""
    if mean is None or math.isinf(mean):
        return "exact (∞ dB)"
    return f"{mean:.2f} dB" + (f" ({exact} of {total} frames exact)" if exact else "")


LOSS_KINDS = ("predicted", "measured")  # a gazer's own per-frame loss: its head's prediction, or its measure
OVER_THRESHOLD = 1.25  # a frame is flagged when its measured loss exceeds the threshold by more than 25 %


def metrics_columns(scales: Sequence[int], terms: Sequence[str] = ()) -> list[str]:
    """metrics.csv's columns, the same for every run: frame, tiles, slots kept (in all, as a share, per scale),
    the gazer's own loss by kind, the reconstruction's loss (and its terms when it has several), PSNR, SSIM."""
    return [
        "frame",
        "tiles",
        "gazed",
        "ratio",
        *(f"gazed_{s}px" for s in scales),
        *(f"{kind}_loss" for kind in LOSS_KINDS),
        "reconstruction_loss",
        *(f"loss_{t}" for t in terms),
        "psnr_db",
        "ssim",
    ]


def metrics_rows(
    gaze, loss, psnr, *, terms: dict[str, Any] | None = None, ssim=None, frames=None, start: int = 0
) -> list[dict[str, Any]]:
    """metrics.csv's rows (`metrics_columns`), one per rebuilt frame, over the N tiles of one chunk: slots
    summed (per scale too), the gazer's loss, the losses and SSIM averaged, PSNR by `mean_psnr`; None where
    not measured.

    Args:
        gaze: a `GazeResult` with B = N tiles (1: the whole frame) and T frames.
        loss, psnr, ssim, and each of `terms` (name -> values): (N, F) for the F rebuilt frames.
        frames: the F frames rebuilt, indices into the T (default: all of them).
        start: the chunk's first frame among the frames of the run (the rows' "frame").
    """
    loss, psnr = _array(loss), _array(psnr)
    ssim = None if ssim is None else _array(ssim)
    terms = {k: _array(v) for k, v in (terms or {}).items() if k != "l1" or len(terms) > 1}
    N, slots = loss.shape[0], gaze.grid.num_slots
    counts, per_scale = gaze.counts().numpy(), gaze.counts_per_scale().numpy()  # (N, T), (N, T, S)
    own = None if gaze.frame_loss is None or gaze.loss_kind not in LOSS_KINDS else _array(gaze.frame_loss)
    rows = []
    for i, t in enumerate(range(gaze.num_frames) if frames is None else [int(f) for f in frames]):
        row = dict.fromkeys(metrics_columns(gaze.grid.scales, list(terms)))
        kept = int(counts[:, t].sum())
        row.update(frame=start + t, tiles=N, gazed=kept, ratio=round(float(kept) / (N * slots), 6))
        for s, scale in enumerate(gaze.grid.scales):
            row[f"gazed_{scale}px"] = int(per_scale[:, t, s].sum())
        if own is not None:
            row[f"{gaze.loss_kind}_loss"] = round(float(own[:, t].mean()), 6)
        row["reconstruction_loss"] = round(float(loss[:, i].mean()), 6)
        for name, term in terms.items():
            row[f"loss_{name}"] = round(float(term[:, i].mean()), 6)
        row["psnr_db"] = round(mean_psnr(psnr[:, i]), 4)
        if ssim is not None:
            row["ssim"] = round(float(ssim[:, i].mean()), 6)
        rows.append(row)
    return rows


def clip_rows(gaze, rec) -> list[dict[str, Any]]:
    """`metrics_rows` of a whole-frame run: clip 0 of `gaze` and its `Reconstruction`."""
    return metrics_rows(
        gaze.select([0]),
        rec.loss[:1],
        rec.psnr[:1],
        terms={k: v[:1] for k, v in rec.terms.items()},
        ssim=rec.ssim[:1],
        frames=rec.frame_indices.tolist(),
    )


def _array(values) -> np.ndarray:
    """float32 numpy values of a tensor or array (the dtype the per-frame numbers are computed in)."""
    return values.numpy() if isinstance(values, torch.Tensor) else np.asarray(values, dtype=np.float32)


class MetricsCsv:
    """metrics.csv written as the rows come (the one writer): the header from the first rows' columns, blank
    cells for None."""

    def __init__(self, path: Path):
        self.path, self.file, self.writer = Path(path), None, None

    def __enter__(self) -> "MetricsCsv":
        self.file = open(self.path, "w", newline="")
        return self

    def add(self, rows: list[dict[str, Any]]) -> None:
        if self.writer is None and rows:
            self.writer = csv.DictWriter(self.file, fieldnames=list(rows[0]))
            self.writer.writeheader()
        if rows:
            self.writer.writerows(rows)

    def __exit__(self, *exc) -> None:
        self.file.close()


def totals(gaze, rec) -> dict[str, Any]:
    """The run's headline numbers (clip 0): slots kept, losses, mean PSNR and exact frames, SSIM."""
    return {
        "slots_kept": gaze.num_gazed,
        "slots_total": gaze.num_frames * gaze.grid.num_slots,
        "kept_fraction": round(gaze.kept_fraction, 6),
        "loss_kind": gaze.loss_kind,
        "reconstruction_loss": round(float(rec.loss.mean()), 6),
        "psnr_db": _json_number(round(mean_psnr(rec.psnr), 4)),
        "exact_frames": exact_frames(rec.psnr),
        "ssim": round(float(rec.ssim.mean()), 6),
    }


def write_metrics_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    """metrics.csv of a whole-frame run's rows (`clip_rows`), through the one writer."""
    with MetricsCsv(path) as out:
        out.add(rows)
    return Path(path)


def loss_check(
    rows: list[dict[str, Any]], settings: dict[str, Any], reconstructor: str, gazer_loss: float | None
) -> dict[str, Any]:
    """What a run's threshold meant and whether the rebuild met it, for gaze.json's totals, the summaries and
    the card: `threshold_note`, the gazer's mean own loss (`gazer_loss`, of its kind), and for a gazer that
    stops on a *predicted* loss at a loss threshold, the frames whose measured loss (the rows' reconstruction
    loss, the mean over tiles) exceeds the threshold by more than 25 % (`frames_over_threshold`; else None).

    Args:
        rows: `metrics_rows` of the run.
        settings: the gaze's settings (`GazeResult.settings`, or gaze.json's head settings with tiles).
        reconstructor: the reconstructor's name.
        gazer_loss: the mean of the gazer's own per-frame loss (None: it gives none).
    """
    from .calibration import threshold_note

    t = settings.get("task_loss_requirement")
    # Only a learned gazer's predicted stop says "stop" = "predicted"; greedy and the measured stop measure it.
    checked = isinstance(t, (int, float)) and settings.get("stop") == "predicted"
    over = None
    if checked:
        limit = float(t) + (OVER_THRESHOLD - 1) * abs(float(t))
        over = [int(r["frame"]) for r in rows if r["reconstruction_loss"] > limit]
    return {
        "threshold_note": threshold_note(settings, reconstructor),
        "gazer_loss": None if gazer_loss is None or math.isnan(gazer_loss) else round(gazer_loss, 6),
        "frames_over_threshold": over,
    }


def scale_totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Slots kept per scale over a run's metrics rows: {"gazed_32px": n, ...}, coarsest first."""
    names = [k for k in (rows[0] if rows else {}) if k.startswith("gazed_") and k.endswith("px")]
    return {k: sum(int(r[k]) for r in rows) for k in names}


SHOWN_FRAMES = 12  # frames listed by number in a summary; more are counted


def loss_check_text(totals: dict[str, Any]) -> str | None:
    """`loss_check` in words for a summary: the gazer's own mean loss beside the measured one, and the frames
    whose measured loss exceeds the threshold by more than 25 %; None when the gazer gives no loss of its own."""
    own, kind = totals.get("gazer_loss"), totals.get("loss_kind")
    if own is None or (kind == "measured" and own == totals["reconstruction_loss"]):
        return None  # no loss of its own, or it measured this very loss (greedy with paint): nothing to set beside
    text = f"{kind} loss (gazer) {own:.4f}, measured loss {totals['reconstruction_loss']:.4f}"
    over = totals.get("frames_over_threshold")
    if over is None:
        return text
    if not over:
        return text + "; no frame's measured loss exceeds the threshold by more than 25 %"
    listed = ", ".join(str(f) for f in over[:SHOWN_FRAMES]) + (", ..." if len(over) > SHOWN_FRAMES else "")
    return (
        text + f"; {len(over)} of {totals['frames']} frame(s) measured over the threshold by more than 25 % "
        f"({'frames' if len(over) > 1 else 'frame'} {listed}): the head's prediction does not hold here"
    )


def _json_number(value: float) -> float | None:
    """JSON has no inf: an all-exact PSNR is written as null (see `exact_frames`)."""
    return None if math.isinf(value) else value
