"""Loading VideoMAE_AutoGaze: find a checkpoint (hub id, `videomae.pt`, `.safetensors` or folder), read it safely, build the model.

The pickle is only ever read with `torch.load(weights_only=True)`; the config is resolved from
`config=`, a `config_and_results.json` or `config.yaml` beside the weights, else the published
vit-mae-large sizes; the weights are then held strictly against the model built on the meta
device (`playground.checkpoints`, as AutoGaze's loader does). `convert_checkpoint` (CLI:
`python -m playground convert-videomae SRC DST`) turns the pickle into a `.safetensors` file.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from ...checkpoints import build_on_meta, float32_state, inside, locate, read_safetensors
from ...errors import PlaygroundError, check, first_sentence
from ...jsonio import read_json, write_json
from ...models.videomae_model import ConfigError, VideoMAEAutoGaze, VideoMAEConfig, init_random_
from .reconstructor import VideoMAEReconstructor

log = logging.getLogger(__name__)

HUB_ID = "bfshi/VideoMAE_AutoGaze"
HUB_CHECKPOINT = "videomae.pt"
HUB_CONFIG = "config.yaml"
CONFIG_JSON = "config_and_results.json"
RANDOM_MAX_PARAMETERS = 2**31  # 8 GiB of float32; the published architecture has about 0.5 G parameters
# A 2-scale model (20 slots per frame, 64 px canvas, small DINOv2 and SigLIP): every code path, tiny cost.
TINY_CONFIG = {
    "vit_mae_config": {
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "decoder_hidden_size": 32,
        "decoder_num_hidden_layers": 2,
        "decoder_num_attention_heads": 2,
        "decoder_intermediate_size": 64,
        "image_size": 64,
        "scales": "32+64",
    },
    "dinov2_with_registers_config": {
        "hidden_size": 16,
        "num_hidden_layers": 4,
        "num_attention_heads": 2,
        "image_size": 56,
    },
    "siglip_vision_config": {
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 4,
        "num_attention_heads": 2,
        "image_size": 64,
    },
}


# ---- configs -----------------------------------------------------------------------------------
def resolve_config(config: VideoMAEConfig | dict | str | os.PathLike | None) -> VideoMAEConfig | None:
    """An explicit architecture: a `VideoMAEConfig`, the three-dict form, or a path to that JSON."""
    if config is None or isinstance(config, VideoMAEConfig):
        return config
    if isinstance(config, (str, os.PathLike)):
        path = Path(config)
        check(path.is_file(), f"config file not found: {path}")
        config = read_json(path, "config", want_object=False)
    check(isinstance(config, dict), f"config must be a dict or a JSON path, got {type(config).__name__}")
    try:
        return VideoMAEConfig.from_dict(config)
    except (ConfigError, TypeError, ValueError) as exc:
        raise PlaygroundError(f"bad VideoMAE config: {exc}") from exc


def config_from_yaml(path: Path) -> VideoMAEConfig:
    """The published `config.yaml` (the training run's Hydra config): losses and scales from `task`.

    The ViT-MAE sizes are not in it (they come from facebook/vit-mae-large), so only
    vit-mae-large-based runs can be described this way.
    """
    try:
        import yaml

        data = yaml.safe_load(path.read_text()) or {}
    except Exception as exc:  # noqa: BLE001  (any YAML or IO problem is a bad config file)
        raise PlaygroundError(f"cannot read {path}: {exc}") from exc
    task = data.get("task") or {}
    model = str(task.get("recon_model", "facebook/vit-mae-large"))
    check(
        "vit-mae-large" in model,
        f"{path} trains on {model}; only vit-mae-large sizes are built in, pass config= with its sizes",
    )
    mae = {
        k: v
        for k, v in (task.get("recon_model_config") or {}).items()
        if k in ("scale_embed", "time_embed", "max_num_frames", "causal", "loss_type", "loss_weights")
    }
    if task.get("scales") is not None:
        mae["scales"] = str(task["scales"])
    return resolve_config({"vit_mae_config": mae})


# ---- finding and reading checkpoints -----------------------------------------------------------
def find_checkpoint(name_or_path: str, cache_dir=None, revision=None) -> tuple[Path, Path | None]:
    """Where the weights are, and a config file found next to them (or None).

    Args:
        name_or_path: a `.pt`/`.safetensors` file, a folder holding one, or a hub id.

    Returns:
        (weights file, `config_and_results.json` or `config.yaml` beside it, if any).
    """
    found = locate(name_or_path, (HUB_CHECKPOINT, HUB_CONFIG), revision, cache_dir, example=HUB_ID)
    if found.kind == "file":
        return found.path, _config_beside(found.folder)
    if found.kind == "folder":
        return _only_checkpoint(found.path), _config_beside(found.path)
    folder = found.folder
    check((folder / HUB_CHECKPOINT).is_file(), f"the hub repo {name_or_path} has no {HUB_CHECKPOINT}")
    # Without config.yaml the architecture defaults are the published ones anyway.
    config = folder / HUB_CONFIG
    return inside(folder, folder / HUB_CHECKPOINT), inside(folder, config) if config.is_file() else None


def _only_checkpoint(path: Path) -> Path:
    """The one weights file of a local folder (preferring the published names when there are several)."""
    candidates = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.pt")) + sorted(path.glob("*.pth"))
    check(len(candidates) > 0, f"{path} holds no .safetensors or .pt checkpoint")
    preferred = [c for c in candidates if c.stem in ("videomae", "task_state_dict", "model")]
    check(
        len(preferred) == 1 or len(candidates) == 1,
        f"{path} holds several checkpoints ({', '.join(c.name for c in candidates)}): pass the file",
    )
    return inside(path, (preferred or candidates)[0])


def _config_beside(folder: Path) -> Path | None:
    """The config file in `folder` (which it must not link out of), or None."""
    for name in (CONFIG_JSON, HUB_CONFIG):
        if (folder / name).is_file():
            return inside(folder, folder / name)
    return None


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a `.safetensors` file, or of a `torch.save` pickle read with `weights_only=True`.

    Raises:
        PlaygroundError: unreadable file, or a pickle that holds anything but tensors.
    """
    path = Path(path)
    check(path.is_file(), f"no such checkpoint file: {path}")
    state = read_safetensors(path) if path.suffix == ".safetensors" else _torch_load(path)
    check(
        isinstance(state, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()),
        f"{path} does not hold a flat state dict (name -> tensor)",
    )
    return state


def _torch_load(path: Path) -> Any:
    error = None
    for mmap in (True, False):  # mmap avoids a 2 GB copy but needs the zip format of torch.save
        try:
            with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the refusal below says it all
                warnings.filterwarnings("ignore", category=UserWarning, module=r"torch(\.|$)")
                return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
        except Exception as exc:  # noqa: BLE001  (unpickling refusals, corrupt zips, legacy formats)
            error = exc
    raise PlaygroundError(
        f"cannot load {path} with torch.load(weights_only=True), which accepts plain tensors "
        f"only, never arbitrary pickled objects: {_load_failure(error)}"
    )


def _load_failure(error: Exception) -> str:
    """Why torch.load refused, in one sentence: the unpickler's own reason, not its advice to turn the check off."""
    text = str(error).strip()
    if "WeightsUnpickler error:" in text:
        reason = first_sentence(text.split("WeightsUnpickler error:", 1)[1])
        return reason if "operand" not in reason else reason[:-1] + " (not a torch.save checkpoint?)."
    return first_sentence(text) if text else f"{type(error).__name__}."


def match_state_dict(state: dict[str, torch.Tensor], model: VideoMAEAutoGaze, source: str) -> dict[str, torch.Tensor]:
    """Map a checkpoint onto the model's parameters, strictly.

    The DDP `module.` and the `mae.` prefixes are stripped; keys the published file holds but the
    model does not use (the SigLIP pooling head) are dropped. Every other difference is an error.

    Returns:
        name -> float32 tensor, exactly the model's parameter names.
    """
    renamed = {k.removeprefix("module.").removeprefix("mae."): v for k, v in state.items()}
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    unused = model.unused_key_prefixes()
    kept = {k: v for k, v in renamed.items() if k in expected or not (unused and k.startswith(unused))}
    return float32_state(
        source, kept, expected, "the VideoMAE_AutoGaze architecture", "; pass config= for a non-default architecture"
    )


def build_model(
    config: VideoMAEConfig | None = None,
    state: dict[str, torch.Tensor] | None = None,
    source: str = "checkpoint",
    seed: int | None = None,
) -> VideoMAEAutoGaze:
    """Build on the meta device (no init cost), then take the checkpoint's tensors as parameters.

    Args:
        config: architecture (default: the published vit-mae-large one).
        state: a state dict to load strictly; None with `seed` gives random weights (for timings).
    """
    try:
        model = build_on_meta(lambda: VideoMAEAutoGaze(config), "bad VideoMAE config")
    except ConfigError as exc:
        raise PlaygroundError(f"bad VideoMAE config: {exc}") from exc
    if state is not None:
        model.load_state_dict(match_state_dict(state, model, source), strict=True, assign=True)
    else:
        size = sum(p.numel() for p in model.parameters())
        check(
            size <= RANDOM_MAX_PARAMETERS,
            f"random weights for this VideoMAE config would be {size / 1e6:,.0f} M "
            f"parameters, more than the {RANDOM_MAX_PARAMETERS / 1e6:,.0f} M "
            f"built here; use smaller sizes",
        )
        model.to_empty(device="cpu")
        init_random_(model, seed or 0)
    return model.requires_grad_(False).eval()


# ---- loading -----------------------------------------------------------------------------------
def load_videomae(
    name_or_path: str = HUB_ID, device=None, config=None, *, cache_dir=None, revision=None, **kwargs
) -> VideoMAEReconstructor:
    """Load VideoMAE_AutoGaze from the hub id, a `videomae.pt`, a `.safetensors` or a folder.

    Args:
        name_or_path: `bfshi/VideoMAE_AutoGaze` (needs network or the HF cache), a file or a folder.
        device: where to run; default from $PLAYGROUND_DEVICE, else CUDA, else CPU.
        config: architecture for non-default sizes: a dict in the form of config_and_results.json
            (`vit_mae_config`, `dinov2_with_registers_config`, `siglip_vision_config`) or its path.
            Default: a `config_and_results.json` or `config.yaml` beside the weights, else vit-mae-large.
        cache_dir, revision: for the hub download.
        **kwargs: `VideoMAEReconstructor` options (bf16, clip_len, preprocess, loss_terms, rebuild).

    Returns:
        A ready `VideoMAEReconstructor`.
    """
    weights, found_config = find_checkpoint(str(name_or_path), cache_dir, revision)
    arch = resolve_config(config)
    if arch is None and found_config is not None:
        arch = config_from_yaml(found_config) if found_config.suffix == ".yaml" else resolve_config(found_config)
    start = time.perf_counter()
    model = build_model(arch, read_state_dict(weights), source=weights.name)
    log.info("VideoMAE: loaded %s in %.1f s", weights, time.perf_counter() - start)
    return VideoMAEReconstructor(model, device, name=str(name_or_path), **kwargs)


def save_tiny(folder: str | os.PathLike, seed: int = 0) -> Path:
    """Write a `TINY_CONFIG` model with seeded random weights to `folder` (model.safetensors and
    config_and_results.json): what the registry-parametrised tests load by its folder."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = build_model(resolve_config(TINY_CONFIG), seed=seed)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    write_json(TINY_CONFIG, folder / CONFIG_JSON)
    return folder


def convert_checkpoint(src: str | os.PathLike, dst: str | os.PathLike, dtype: str | None = None) -> Path:
    """`videomae.pt` -> `.safetensors` with the same keys (read with `weights_only=True`).

    Args:
        src: the pickled state dict; dst: a path ending in `.safetensors`.
        dtype: optional float dtype for the copy (`float32`, `bfloat16`, `float16`).

    Returns:
        The written path.
    """
    from safetensors.torch import save_file

    dst = Path(dst)
    check(dst.suffix == ".safetensors", f"the destination must end in .safetensors, got {dst.name}")
    state = read_state_dict(src)
    check(
        any(k.removeprefix("module.").removeprefix("mae.").startswith("vit.embeddings.") for k in state),
        f"{src} does not look like a VideoMAE_AutoGaze checkpoint (no vit.embeddings.* keys)",
    )
    cast = None
    if dtype is not None:
        check(dtype in ("float32", "bfloat16", "float16"), f"dtype must be float32, bfloat16 or float16, got {dtype}")
        cast = getattr(torch, dtype)
    tensors = {
        k: (v.to(cast) if cast is not None and v.is_floating_point() else v).contiguous() for k, v in state.items()
    }
    storages = [v.untyped_storage().data_ptr() for v in tensors.values()]
    if len(set(storages)) < len(storages):  # safetensors refuses tensors that share memory
        tensors = {k: v.clone() for k, v in tensors.items()}
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".safetensors", dir=dst.parent)  # written whole, then moved into place
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"format": "pt", "source": Path(src).name})
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the file from other users
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return dst


__all__ = [
    "load_videomae",
    "convert_checkpoint",
    "read_state_dict",
    "match_state_dict",
    "build_model",
    "resolve_config",
    "config_from_yaml",
    "find_checkpoint",
    "save_tiny",
    "HUB_ID",
    "TINY_CONFIG",
]
