"""Files a run can be downloaded as: gaze JSON, masks NPZ, metrics CSV and a run card (+ MP4s from render.py).

The gaze JSON is `GazeResult.to_json()` (the reference's official dict as lists, plus per-frame
stats), so `GazeResult.from_json` reads it back; files and columns match the CLI's `gaze` outputs.
The overlay and reconstruction MP4s are written by `render.py`, which also shows them. The run card
records what is needed to redo a run: package versions, model ids and revisions, the device, the
settings and the video's hash.

A tiled run's files are the CLI's `gaze --tile` outputs, written by `playground.video_run` (a tiled
gaze.json, format "playground.tiled-gaze/1"), plus its run card (`tiled_run_card`)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from .. import report
from .. import run_card as cards
from ..run_card import EXPORT_FILES, TILED_EXPORT_FILES  # noqa: F401  (the downloads: the CLI's `gaze` files)
from ..run_card import card_head, weights_digest, write_masks_npz as write_gaze_masks
from ..run_card import write_run_card  # noqa: F401  (the app's downloads write cards through here)
from .cache import DIGESTS, model_key
from .pipeline import TILE_BATCH, Run, TiledRun


def cached_digest(path: Path) -> str:
    """`run_card.weights_digest`, once per checkpoint while the app runs."""
    return DIGESTS.get(("digest", model_key(str(path))), lambda: weights_digest(path))


def run_card(run: Run, gazer: Any, reconstructor: Any) -> dict[str, Any]:
    """Everything needed to reproduce `run`, as a JSON-ready dict."""
    gaze, rec = run.gaze, run.reconstruction
    return {
        **_card_head(run, gazer, reconstructor),
        "results": report.totals(gaze, rec),
        "seconds": {**{k: round(v, 4) for k, v in gaze.seconds.items()},
                    **{k: round(v, 4) for k, v in rec.seconds.items()},
                    **{f"request_{k}": round(v, 4) for k, v in run.seconds.items()}},
    }


def tiled_run_card(run: TiledRun, gazer: Any, reconstructor: Any) -> dict[str, Any]:
    """`run_card` for a tiled run: the tiles' layout, and the totals `video_run.run_video` summed."""
    totals = run.totals.to_json()
    return {
        **_card_head(run, gazer, reconstructor),
        "tiles": {**run.layout.to_json(), "num_tiles": run.layout.num_tiles, "batch_size": TILE_BATCH},
        "results": {k: v for k, v in totals.items() if k != "seconds"},
        "seconds": {**totals["seconds"], **{f"request_{k}": round(v, 4) for k, v in run.seconds.items()}},
    }


def _card_head(run: Run | TiledRun, gazer: Any, reconstructor: Any) -> dict[str, Any]:
    """What every run card starts with (`run_card.card_head`): the models, the video, the settings."""
    clip = run.clip
    return card_head(gazer, reconstructor, (run.settings.gazer, run.settings.reconstructor),
                     video_record(clip), asdict(run.settings), cached_digest)


def video_record(clip) -> dict[str, Any]:
    """The run card's `video` (`run_card.video_record`)."""
    return cards.video_record(clip.name, clip.sha256, (clip.source_size, clip.source_fps, clip.duration_s),
                              len(clip.frames), clip.read_size, clip.fps)


def write_masks_npz(run: Run, path: Path) -> Path:
    """Per-scale 2-D masks `mask_{scale}px` (T, side, side) bool plus the official arrays
    (`run_card.write_masks_npz`)."""
    return write_gaze_masks(run.gaze, path)


def write_gaze_json(run: Run, path: Path) -> Path:
    """`GazeResult.to_json()` plus the reconstruction's numbers (`playground.report`, as the CLI's)."""
    return report.write_gaze_json(run.gaze, run.reconstruction, path, read_size=run.clip.read_size)


def write_metrics_csv(run: Run, path: Path) -> Path:
    """One row per frame with the CLI's columns (`playground.report.metrics_rows`)."""
    return report.write_metrics_csv(run.gaze, run.reconstruction, path)


def write_tables(run: Run, card: dict[str, Any], folder: Path) -> list[Path]:
    """The non-video downloads: gaze.json, masks.npz, metrics.csv, run_card.json."""
    return [write_gaze_json(run, folder / "gaze.json"), write_masks_npz(run, folder / "masks.npz"),
            write_metrics_csv(run, folder / "metrics.csv"), write_run_card(card, folder / "run_card.json")]
