"""Files a run can be downloaded as: gaze.json, masks NPZ, metrics CSV and a run card (+ MP4s from render.py).

One run, one set of files, as the CLI's `gaze` writes them: gaze.json in `video_run.GAZE_FORMAT` (per chunk
and tile the official gaze dict as lists, its boxes in frame pixels and its rebuild; a whole-frame run is one
chunk of one tile), metrics.csv and the run card (`run_card.make_card`: package versions, model ids and
revisions, the device, the settings and the video's hash). A whole-frame run also has masks.npz; its tables
are written here and its MP4s by `render.py`. A tiled run's tables and videos were written by
`playground.video_run` as it ran, and only its card is added here.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from .. import report
from .. import run_card as cards
from ..run_card import (  # noqa: F401  (the downloads: the CLI's `gaze` files)
    EXPORT_FILES,
    TILED_EXPORT_FILES,
    make_card,
    weights_digest,
    write_run_card,  # noqa: F401  (the app's downloads write cards through here)
)
from ..run_card import write_masks_npz as write_gaze_masks
from ..video_run import write_clip_gaze_json
from .cache import DIGESTS, model_key
from .pipeline import TILE_BATCH, Run


def cached_digest(path: Path) -> str:
    """`run_card.weights_digest`, once per checkpoint while the app runs."""
    return DIGESTS.get(("digest", model_key(str(path))), lambda: weights_digest(path))


def run_card(run: Run, gazer: Any, reconstructor: Any) -> dict[str, Any]:
    """Everything needed to reproduce `run`, whole-frame or tiled, as a JSON-ready dict (`run_card.make_card`)."""
    return make_card(
        gazer,
        reconstructor,
        (run.settings.gazer, run.settings.reconstructor),
        video_record(run.clip),
        asdict(run.settings),
        run.totals,
        run.layout,
        TILE_BATCH,
        run.seconds,
        cached_digest,
    )


def video_record(clip) -> dict[str, Any]:
    """The run card's `video` (`run_card.video_record`)."""
    return cards.video_record(
        clip.name,
        clip.sha256,
        (clip.source_size, clip.source_fps, clip.duration_s),
        len(clip.frames),
        clip.read_size,
        clip.fps,
    )


def write_tables(run: Run, card: dict[str, Any], folder: Path) -> list[Path]:
    """A whole-frame run's non-video downloads: gaze.json, masks.npz, metrics.csv, run_card.json."""
    gaze, rec = run.gaze, run.reconstruction
    return [
        write_clip_gaze_json(folder / "gaze.json", gaze, rec, run.clip.read_size, run.clip.source, run.totals),
        write_gaze_masks(gaze, folder / "masks.npz"),
        report.write_metrics_csv(run.rows, folder / "metrics.csv"),
        write_run_card(card, folder / "run_card.json"),
    ]
