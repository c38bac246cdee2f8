"""A run's card and its per-scale masks, written the same way by the app's exports and the CLI's `gaze`.

The run card records what is needed to redo a run: package versions and the code's version (the git
commit when the package runs from a checkout), the device, each model's id, revision and weights'
SHA-256 and licence, the video (name, hash, sizes, frames, licence) and the settings. `masks.npz` holds
the per-scale masks and the official arrays. `rebuilt_frames` is the reconstruction at the clip's aspect ratio,
as both write `reconstruction.mp4`.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
import time
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from . import __version__
from .device import resolve_device
from .licences import card_licences
from .video import resize_frames

PACKAGES = (
    "torch",
    "transformers",
    "gradio",
    "numpy",
    "decord",
    "plotly",
    "safetensors",
    "huggingface_hub",
    "imageio-ffmpeg",
)
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".bin", ".json")  # the files a checkpoint folder's digest covers
EXPORT_FILES = ("gaze.json", "masks.npz", "overlay.mp4", "reconstruction.mp4", "metrics.csv", "run_card.json")
# A tiled or streamed run's files: what `video_run.run_video` wrote, and the run card (no masks.npz: its masks
# are per chunk and tile, in gaze.json).
TILED_EXPORT_FILES = ("gaze.json", "metrics.csv", "overlay.mp4", "reconstruction.mp4", "run_card.json")
_HUB_FILES = ("model.safetensors", "videomae.safetensors", "videomae.pt", "config.json")  # a hub id's cached files


def sha256_of(files: Sequence[Path]) -> str:
    """Hex sha256 over the bytes of `files`, in the order given (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    for file in files:
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def weights_digest(path: Path) -> str:
    """sha256 over a checkpoint file, or over a folder's weight and config files in name order."""
    path = Path(path)
    return sha256_of(
        [path] if path.is_file() else sorted(p for p in path.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file())
    )


@lru_cache(maxsize=1)
def code_version() -> dict[str, Any]:
    """The package's version, and the git commit it runs from (with whether its files differ from it) when
    it runs from a git checkout; commit None otherwise."""
    root = Path(__file__).resolve().parent
    out: dict[str, Any] = {"version": __version__, "git_commit": None}
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", str(root)],
                capture_output=True,
                text=True,
                timeout=10,
            )
            out["git_dirty"] = bool(dirty.stdout.strip()) if dirty.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def package_versions() -> dict[str, Any]:
    """Installed versions of the packages a run depends on ('not installed' when absent), and the code's."""
    versions: dict[str, Any] = {
        "python": sys.version.split()[0],
        "autogaze-playground": __version__,
        "code": code_version(),
    }
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def model_files(name: str) -> Path | None:
    """The weights behind a model name on this machine: a local file or folder, a shipped gazer's folder, or
    a hub id's cached snapshot folder; None for a training-free model (or a hub id not in the cache)."""
    from huggingface_hub import try_to_load_from_cache

    from .gazers import SHIPPED_GAZERS

    path = Path(name).expanduser()
    if path.exists():
        return path
    if name.strip().lower() in SHIPPED_GAZERS:
        return SHIPPED_GAZERS[name.strip().lower()]
    if "/" not in name:
        return None
    for filename in _HUB_FILES:
        found = try_to_load_from_cache(name, filename)
        if isinstance(found, str) and "snapshots" in Path(found).parts:
            return Path(found).parent
    return None


def model_revision(name: str, digest: str | None = None) -> str:
    """'built-in' (training-free), the weights' content hash ('sha256:' and 16 hex digits of `digest`) for a
    local checkpoint or a shipped gazer, the commit of a hub id's cached snapshot, or 'unknown'."""
    files = model_files(name)
    if files is None:
        return "built-in" if "/" not in name else "unknown"
    if "snapshots" in files.parts and not Path(name).expanduser().exists():
        return files.parts[files.parts.index("snapshots") + 1]  # the cache stores snapshots by commit hash
    return f"sha256:{(digest or weights_digest(files))[:16]}"


def describe_model(model: Any, name: str, digest: Callable[[Path], str] = weights_digest) -> dict[str, Any]:
    """Id, class, device, revision and the weights' SHA-256 (None for a training-free model) of a loaded model.

    `digest(path)`: the sha256 of a checkpoint file or folder (the app passes a cached one).
    """
    info: dict[str, Any] = {"id": name, "class": type(model).__name__, "device": str(getattr(model, "device", ""))}
    source = getattr(model, "source", None)
    if isinstance(source, str) and source and source != name:
        info["source"] = source
    files = model_files(name)
    info["weights_sha256"] = None if files is None else digest(files)
    info["revision"] = model_revision(name, info["weights_sha256"])
    return info


def device_description() -> dict[str, Any]:
    """The device the models resolve to, with its name and thread count."""
    device = resolve_device()
    out = {"device": str(device), "torch_threads": torch.get_num_threads(), "platform": platform.platform()}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
    else:
        out["cpu"] = platform.processor() or platform.machine()
    return out


def card_head(
    gazer: Any,
    reconstructor: Any,
    names: tuple[str, str],
    video: dict[str, Any],
    settings: dict[str, Any],
    digest: Callable[[Path], str] = weights_digest,
) -> dict[str, Any]:
    """What every run card starts with: when, the packages and code, the device, the models, the video, the
    settings, and the models' and the video's licences (`licences.card_licences`). `names`: (gazer,
    reconstructor) as the user named them."""
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "packages": package_versions(),
        "device": device_description(),
        "models": {
            "gazer": describe_model(gazer, names[0], digest),
            "reconstructor": describe_model(reconstructor, names[1], digest),
        },
        "video": video,
        "settings": settings,
        "licences": card_licences({"gazer": names[0], "reconstructor": names[1]}, video.get("name")),
    }


def make_card(
    gazer: Any,
    reconstructor: Any,
    names: tuple[str, str],
    video: dict[str, Any],
    settings: dict[str, Any],
    totals: dict[str, Any],
    layout: Any = None,
    batch_size: int | None = None,
    request_seconds: dict[str, float] | None = None,
    digest: Callable[[Path], str] = weights_digest,
) -> dict[str, Any]:
    """A run's card, whole-frame or tiled, for the app and the CLI alike: `card_head`, then the tiles (a
    tiled run's `layout` and `batch_size`), the results (gaze.json's `totals` without their seconds) and the
    seconds (the totals', then the app's request stages as `request_<stage>`)."""
    card = card_head(gazer, reconstructor, names, video, settings, digest)
    if layout is not None and not layout.whole_frame:
        card["tiles"] = {**layout.to_json(), "num_tiles": layout.num_tiles, "batch_size": batch_size}
    card["results"] = {k: v for k, v in totals.items() if k != "seconds"}
    card["seconds"] = {
        **totals.get("seconds", {}),
        **{f"request_{k}": round(v, 4) for k, v in (request_seconds or {}).items()},
    }
    return card


def write_masks_npz(gaze, path: Path) -> Path:
    """Per-scale 2-D masks `mask_{scale}px` (T, side, side) bool plus the official arrays (clip 0)."""
    maps = gaze.grid.scale_maps(gaze.slot_mask()[0])
    arrays = {f"mask_{scale}px": m.numpy() for scale, m in zip(gaze.grid.scales, maps)}
    arrays.update({k: v.numpy() for k, v in gaze.to_official().items()})
    arrays["scales"] = np.asarray(gaze.grid.scales)
    np.savez_compressed(path, **arrays)
    return Path(path)


def write_run_card(card: dict[str, Any], path: Path) -> Path:
    Path(path).write_text(json.dumps(card, indent=2, default=str))
    return Path(path)


def rebuilt_frames(frames: np.ndarray, rec) -> np.ndarray:
    """The reconstruction (square canvas) resized back to the frames' aspect: (T, H, W, 3) uint8."""
    return resize_frames(rec.frames[0].numpy(), tuple(frames.shape[1:3]))


def source_facts(
    read_size: tuple[int, int], frames: int, play_fps: float, info
) -> tuple[tuple[int, int], float, float]:
    """((width, height), frame rate, duration in s) of a video's source from its header `info`; a .npy clip
    (`info` None) has the size of its `frames` frames as read (`read_size`, width and height), its playback
    rate and their length."""
    if info is None:
        return (int(read_size[0]), int(read_size[1])), float(play_fps), frames / play_fps
    return (int(info.width), int(info.height)), float(info.fps), float(info.duration_s)


def video_record(
    name: str,
    sha256: str,
    source: tuple[tuple[int, int], float, float],
    frames: int,
    read_size: tuple[int, int],
    playback_fps: float,
) -> dict[str, Any]:
    """The run card's `video`: name, hash, source size, rate and duration (`source_facts`), the number of
    frames read, their size (width, height) and the rate they play at."""
    (width, height), source_fps, duration_s = source
    return {
        "name": name,
        "sha256": sha256,
        "source_size": [width, height],
        "source_fps": source_fps,
        "duration_s": round(duration_s, 3),
        "frames": int(frames),
        "read_size": [int(v) for v in read_size],
        "playback_fps": round(playback_fps, 3),
    }
