"""Files a run can be downloaded as: gaze JSON, masks NPZ, metrics CSV and a run card (+ MP4s from render.py).

The gaze JSON is `GazeResult.to_json()` (the reference's official dict as lists, plus per-frame
stats), so `GazeResult.from_json` reads it back; files and columns match the CLI's `gaze` outputs.
The overlay and reconstruction MP4s are written by `render.py`, which also shows them. The run card
records what is needed to redo a run: package versions, model ids and revisions, the device, the
settings and the video's hash.

A tiled run's files are the CLI's `gaze --tile` outputs, written by `playground.video_run` (a tiled
gaze.json, format "playground.tiled-gaze/1"), plus its run card (`tiled_run_card`)."""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from huggingface_hub import try_to_load_from_cache

from .. import __version__, report
from ..device import resolve_device
from .cache import DIGESTS, model_key, sha256_of
from .pipeline import TILE_BATCH, Run, TiledRun

EXPORT_FILES = ("gaze.json", "masks.npz", "overlay.mp4", "reconstruction.mp4", "metrics.csv", "run_card.json")
# A tiled run's downloads: what `video_run.run_video` wrote (as the CLI's `gaze --tile`), and the run card.
TILED_EXPORT_FILES = ("gaze.json", "metrics.csv", "overlay.mp4", "reconstruction.mp4", "run_card.json")
PACKAGES = ("torch", "transformers", "gradio", "numpy", "decord", "plotly", "safetensors", "huggingface_hub",
            "imageio-ffmpeg")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a run depends on ('not installed' when absent)."""
    versions = {"python": sys.version.split()[0], "autogaze-playground": __version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def describe_model(model: Any, name: str) -> dict[str, Any]:
    """Id, class, device and revision of a loaded model."""
    info: dict[str, Any] = {"id": name, "class": type(model).__name__, "device": str(getattr(model, "device", ""))}
    source = getattr(model, "source", None)
    if isinstance(source, str) and source and source != name:
        info["source"] = source
    info["revision"] = model_revision(name)
    return info


def model_revision(name: str) -> str:
    """'built-in', a local checkpoint's content hash, or the commit of a hub id's cached snapshot."""
    path = Path(name).expanduser()
    if path.exists():
        return DIGESTS.get(("digest", model_key(name)), lambda: "sha256:" + _weights_digest(path)[:16])
    if "/" not in name:
        return "built-in"
    for filename in ("config.json", "model.safetensors", "videomae.pt"):
        found = try_to_load_from_cache(name, filename)
        if isinstance(found, str) and "snapshots" in Path(found).parts:
            parts = Path(found).parts
            return parts[parts.index("snapshots") + 1]  # the cache stores snapshots by commit hash
    return "unknown"


def _weights_digest(path: Path) -> str:
    """sha256 over a checkpoint file, or over a folder's weight and config files in name order."""
    return sha256_of([path] if path.is_file() else sorted(
        p for p in path.iterdir() if p.suffix in (".safetensors", ".pt", ".bin", ".json") and p.is_file()))


def device_description() -> dict[str, Any]:
    """The device the models resolve to, with its name and thread count."""
    device = resolve_device()
    out = {"device": str(device), "torch_threads": torch.get_num_threads(), "platform": platform.platform()}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
    else:
        out["cpu"] = platform.processor() or platform.machine()
    return out


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
    """What every run card starts with: when, the packages, the device, the models, the video, the settings."""
    clip = run.clip
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "packages": package_versions(),
        "device": device_description(),
        "models": {"gazer": describe_model(gazer, run.settings.gazer),
                   "reconstructor": describe_model(reconstructor, run.settings.reconstructor)},
        "video": {"name": clip.name, "sha256": clip.sha256, "source_size": list(clip.source_size),
                  "source_fps": clip.source_fps, "duration_s": round(clip.duration_s, 3),
                  "frames": int(clip.frames.shape[0]),
                  "read_size": list(clip.read_size),
                  "playback_fps": round(clip.fps, 3)},
        "settings": asdict(run.settings),
    }


def write_masks_npz(run: Run, path: Path) -> Path:
    """Per-scale 2-D masks `mask_{scale}px` (T, side, side) bool plus the official arrays."""
    gaze = run.gaze
    maps = gaze.grid.scale_maps(gaze.slot_mask()[0])
    arrays = {f"mask_{scale}px": m.numpy() for scale, m in zip(gaze.grid.scales, maps)}
    arrays.update({k: v.numpy() for k, v in gaze.to_official().items()})
    arrays["scales"] = np.asarray(gaze.grid.scales)
    np.savez_compressed(path, **arrays)
    return path


def write_run_card(card: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(card, indent=2, default=str))
    return path


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
