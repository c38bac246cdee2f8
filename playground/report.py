"""A run's numbers, computed and written once: per-frame metrics, the mean PSNR, totals, metrics.csv.

The CLI, the app's exports and summaries, `explore` and `Reconstruction.summary` all come here,
so one quantity has one definition everywhere:

- PSNR is averaged over the frames whose rebuild is not exact (finite dB); exact frames (inf dB)
  are counted and said, not averaged in. A run whose every frame is exact reads "exact".
- `metrics.csv` of a whole-frame run has one row per rebuilt frame (`metrics_rows`); `totals` are its
  headline numbers. `gaze.json`, whole-frame or tiled, is written by `video_run.GazeJson` in one schema.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

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
    mean, exact, total = mean_psnr(psnr), exact_frames(psnr), torch.as_tensor(psnr).numel()
    if math.isinf(mean):
        return "exact (∞ dB)"
    return f"{mean:.2f} dB" + (f" ({exact} of {total} frames exact)" if exact else "")


def metrics_rows(gaze, rec) -> list[dict[str, Any]]:
    """One row per rebuilt frame of clip 0: slots kept (per scale), ratio, gazer loss, losses, PSNR, SSIM."""
    counts = gaze.counts()[0]
    per_scale = gaze.counts_per_scale()[0]
    rows = []
    for i, t in enumerate(rec.frame_indices.tolist()):
        row = {"frame": t, "gazed": int(counts[t]), "ratio": round(float(counts[t]) / gaze.grid.num_slots, 6)}
        for s, scale in enumerate(gaze.grid.scales):
            row[f"gazed_{scale}px"] = int(per_scale[t, s])
        if gaze.frame_loss is not None:
            row[f"{gaze.loss_kind}_loss"] = round(float(gaze.frame_loss[0, t]), 6)
        row["reconstruction_loss"] = round(float(rec.loss[0, i]), 6)
        for name, term in rec.terms.items():
            if name != "l1" or len(rec.terms) > 1:
                row[f"loss_{name}"] = round(float(term[0, i]), 6)
        row["psnr_db"] = round(float(rec.psnr[0, i]), 4)
        row["ssim"] = round(float(rec.ssim[0, i]), 6)
        rows.append(row)
    return rows


def totals(gaze, rec) -> dict[str, Any]:
    """The run's headline numbers (clip 0): slots kept, losses, mean PSNR and exact frames, SSIM."""
    return {"slots_kept": gaze.num_gazed, "slots_total": gaze.num_frames * gaze.grid.num_slots,
            "kept_fraction": round(gaze.kept_fraction, 6), "loss_kind": gaze.loss_kind,
            "reconstruction_loss": round(float(rec.loss.mean()), 6),
            "psnr_db": _json_number(round(mean_psnr(rec.psnr), 4)), "exact_frames": exact_frames(rec.psnr),
            "ssim": round(float(rec.ssim.mean()), 6)}


def write_metrics_csv(gaze, rec, path: Path) -> Path:
    """metrics.csv: `metrics_rows`, one per rebuilt frame."""
    rows = metrics_rows(gaze, rec)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return Path(path)


def _json_number(value: float) -> float | None:
    """JSON has no inf: an all-exact PSNR is written as null (see `exact_frames`)."""
    return None if math.isinf(value) else value
