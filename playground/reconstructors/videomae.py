"""VideoMAE_AutoGaze reconstructor: load the published checkpoint safely and rebuild gazed videos.

`load_videomae("bfshi/VideoMAE_AutoGaze")` (or a local `videomae.pt`, a converted `.safetensors`,
or a folder holding one) returns a `VideoMAEReconstructor` whose `reconstruct(video, gaze)` gives
the rebuilt frames and the per-frame loss `1*L1 + 0.3*DINOv2 + 0.3*SigLIP2` that AutoGaze's error
threshold refers to (AUTOGAZE_SPEC.md section 2). The pickle is only ever read with
`torch.load(weights_only=True)`; `convert_checkpoint` (CLI: `python -m playground convert-videomae
SRC DST`) turns it into a `.safetensors` file.

Videos of any length are rebuilt in 16-frame clips (the length the model was trained on), with
the gaze split accordingly; frames after the last one asked for are skipped because attention is
block-causal in time.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .. import metrics
from ..device import autocast
from ..errors import PlaygroundError, check, first_sentence
from ..checkpoints import build_on_meta, float32_state, inside, locate, read_safetensors
from ..gaze import GazeResult
from ..geometry import grid_for
from ..jsonio import read_json
from ..models.videomae_model import ConfigError, VideoMAEAutoGaze, VideoMAEConfig, init_random_
from ..pixels import denormalize, normalize
from .base import Reconstruction, Reconstructor

log = logging.getLogger(__name__)

HUB_ID = "bfshi/VideoMAE_AutoGaze"
HUB_CHECKPOINT = "videomae.pt"
HUB_CONFIG = "config.yaml"
CONFIG_JSON = "config_and_results.json"
TERM_NAMES = {"l1": "l1", "dinov2_reg": "dinov2", "siglip2": "siglip2"}  # model name -> Reconstruction.terms name
CLIP_LEN = 16  # frames per clip the model was trained on
PREPROCESS_MODES = ("crop", "squash")
REBUILD_MODES = ("separate", "together")
RANDOM_MAX_PARAMETERS = 2 ** 31  # 8 GiB of float32; the published architecture has about 0.5 G parameters


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
    check("vit-mae-large" in model,
          f"{path} trains on {model}; only vit-mae-large sizes are built in, pass config= with its sizes")
    mae = {k: v for k, v in (task.get("recon_model_config") or {}).items()
           if k in ("scale_embed", "time_embed", "max_num_frames", "causal", "loss_type", "loss_weights")}
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
    check(len(preferred) == 1 or len(candidates) == 1,
          f"{path} holds several checkpoints ({', '.join(c.name for c in candidates)}): pass the file")
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
    check(isinstance(state, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                          for k, v in state.items()),
          f"{path} does not hold a flat state dict (name -> tensor)")
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
    raise PlaygroundError(f"cannot load {path} with torch.load(weights_only=True), which accepts plain tensors "
                          f"only, never arbitrary pickled objects: {_load_failure(error)}")


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
    return float32_state(source, kept, expected, "the VideoMAE_AutoGaze architecture",
                         "; pass config= for a non-default architecture")


def build_model(config: VideoMAEConfig | None = None, state: dict[str, torch.Tensor] | None = None,
                source: str = "checkpoint", seed: int | None = None) -> VideoMAEAutoGaze:
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
        check(size <= RANDOM_MAX_PARAMETERS, f"random weights for this VideoMAE config would be {size / 1e6:,.0f} M "
                                             f"parameters, more than the {RANDOM_MAX_PARAMETERS / 1e6:,.0f} M "
                                             f"built here; use smaller sizes")
        model.to_empty(device="cpu")
        init_random_(model, seed or 0)
    return model.requires_grad_(False).eval()


# ---- preprocessing -----------------------------------------------------------------------------
def task_frames(clips: np.ndarray, size: int, mode: str = "crop") -> torch.Tensor:
    """uint8 (B, T, H, W, 3) -> float32 (B, T, 3, size, size) in the task's normalised space.

    `crop` is the reference's VivitImageProcessor: bicubic resize of the shortest edge to `size`
    (PIL), then a centre crop. `squash` resizes to size x size, as AutoGaze's gazer sees frames
    (both agree on square input).
    """
    check(mode in PREPROCESS_MODES, f"preprocess must be one of {PREPROCESS_MODES}, got {mode!r}")
    B, T, H, W, _ = clips.shape
    if (H, W) != (size, size):
        from PIL import Image

        if mode == "crop":  # the short side becomes `size`, the long one is truncated as HF does
            h, w = (size, int(size * W / H)) if H <= W else (int(size * H / W), size)
        else:
            h, w = size, size
        out = np.empty((B, T, size, size, 3), np.uint8)
        top, left = (h - size) // 2, (w - size) // 2
        for b in range(B):
            for t in range(T):
                img = Image.fromarray(clips[b, t]).resize((w, h), Image.BICUBIC, reducing_gap=None)
                out[b, t] = np.asarray(img)[top:top + size, left:left + size]
        clips = out
    return normalize(torch.from_numpy(np.ascontiguousarray(clips)))


# ---- the reconstructor -------------------------------------------------------------------------
class VideoMAEReconstructor(Reconstructor):
    """Rebuilds frames with VideoMAE_AutoGaze and measures the reference's per-frame loss.

    Args:
        model: a loaded `VideoMAEAutoGaze`.
        device: where to run (default: $PLAYGROUND_DEVICE, else CUDA, else CPU).
        name: shown in results (the hub id or file it came from).
        bf16: run under bf16 autocast on CUDA, as the reference does (no effect on CPU).
        clip_len: frames per clip; longer videos are rebuilt clip by clip (at most max_num_frames).
        preprocess: `crop` (the reference) or `squash` (how the gazer sees non-square frames).
        loss_terms: subset of the model's terms (`l1`, `dinov2`, `siglip2`) to compute; the loss is
            then their weighted sum only. Default: all, i.e. the loss AutoGaze's threshold refers to.
        rebuild: `together` (default) is the reference's single pass over all requested frames
            (its `frame_idx_to_reconstruct`), where a rebuilt frame also sees the decoded mask tokens
            of earlier rebuilt frames: the loss AutoGaze's threshold was defined on. `separate`
            rebuilds each frame in its own decoder pass, as if it alone were asked for, so a frame's
            loss does not depend on which other frames are requested (what the `oracle` gazer measures).
    """

    name = "videomae"

    def __init__(self, model: VideoMAEAutoGaze, device=None, *, name: str = "videomae", bf16: bool = True,
                 clip_len: int = CLIP_LEN, preprocess: str = "crop", loss_terms: Sequence[str] | None = None,
                 rebuild: str = "together"):
        cfg = model.config.mae
        super().__init__(grid_for(cfg.scale_list, cfg.patch_size), device)
        check(isinstance(clip_len, int) and 0 < clip_len <= cfg.max_num_frames,
              f"clip_len must be in [1, {cfg.max_num_frames}], got {clip_len!r}")
        check(preprocess in PREPROCESS_MODES, f"preprocess must be one of {PREPROCESS_MODES}, got {preprocess!r}")
        check(rebuild in REBUILD_MODES, f"rebuild must be one of {REBUILD_MODES}, got {rebuild!r}")
        self.rebuild = rebuild
        self.model = model.to(self.device)
        self.name = name
        self.bf16 = bool(bf16)
        self.clip_len = clip_len
        self.preprocess_mode = preprocess
        self.loss_terms = self._pick_terms(loss_terms)

    @classmethod
    def random(cls, config: VideoMAEConfig | dict | str | None = None, seed: int = 0, device=None,
               **kwargs) -> "VideoMAEReconstructor":
        """Random weights (for timings and tests): the published architecture unless `config` says otherwise."""
        model = build_model(resolve_config(config), seed=seed)
        return cls(model, device, name=kwargs.pop("name", "videomae (random weights)"), **kwargs)

    def _pick_terms(self, loss_terms: Sequence[str] | None) -> list[str]:
        available = list(self.model.loss_weights)
        if loss_terms is None:
            return available
        by_public = {TERM_NAMES[k]: k for k in available} | {k: k for k in available}
        picked = []
        for term in loss_terms:
            check(term in by_public, f"loss term {term!r} is not one of {[TERM_NAMES[k] for k in available]}")
            picked.append(by_public[term])
        check(len(picked) > 0, "loss_terms must name at least one term")
        return [k for k in available if k in picked]

    # -- inputs
    def preprocess(self, clips: np.ndarray) -> torch.Tensor:
        """uint8 (B, T, H, W, 3) -> (B, T, 3, C, C) task-normalised frames on the device."""
        return task_frames(clips, self.grid.canvas, self.preprocess_mode).to(self.device)

    def check_gaze(self, gaze: GazeResult) -> None:
        """Every gazed entry must name a slot of its own frame, at most once."""
        S = self.grid.num_slots
        frame = gaze.frame_of_entry[None].expand_as(gaze.gazing_pos)
        real = ~gaze.if_padded_gazing
        pos = gaze.gazing_pos
        ok = (pos >= 0) & (pos // S == frame)
        if not bool(ok[real].all()):
            b, n = (torch.nonzero(real & ~ok)[0]).tolist()
            raise PlaygroundError(f"gaze entry {n} of clip {b} (id {int(pos[b, n])}) is not a slot of its frame "
                                  f"{int(frame[b, n])}: the gaze does not use {self.grid.describe()}")
        per_frame = torch.zeros(gaze.batch_size, gaze.num_frames, dtype=torch.long)
        per_frame.index_add_(1, gaze.frame_of_entry, real.long())
        check(bool((per_frame == gaze.counts()).all()), "the gaze picks the same slot twice in a frame")

    def clip_gaze(self, gaze: GazeResult, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """Frames [start, stop) of a gaze with clip-local ids: (gazing_pos (B, n), padded (B, n), counts (stop-start,))."""
        counts = gaze.num_gazing_each_frame.tolist()
        e0, e1 = sum(counts[:start]), sum(counts[:stop])
        padded = gaze.if_padded_gazing[:, e0:e1]
        pos = gaze.gazing_pos[:, e0:e1] - self.grid.num_slots * start
        pos = torch.where(padded, torch.zeros_like(pos), pos)  # pad ids are never used; keep them in range
        return pos.to(self.device), padded.to(self.device), counts[start:stop]

    # -- the work
    def rebuild_clip(self, pixels: torch.Tensor, gazing_pos: torch.Tensor, padded: torch.Tensor,
                     counts: Sequence[int], frames: Sequence[int]) -> dict[str, Any]:
        """Rebuild frames of one clip and measure them.

        Args:
            pixels: (B, T, 3, C, C) task-normalised clip (T <= clip_len).
            gazing_pos, padded: (B, N) clip-local gaze; counts: (T,) entries per frame.
            frames: (R,) distinct clip-local frames to rebuild.

        Returns:
            dict with `logits` (B, R, n, p*p*3), `pred` and `target` (B, R, 3, C, C), `terms`
            (model term name -> (B, R)) and `loss` (B, R), all float32.
        """
        model = self.model
        B, R = pixels.shape[0], len(frames)
        with autocast(self.device, self.bf16):
            logits = model.reconstruct_logits(model.embed(pixels), gazing_pos, padded, counts, frames,
                                              together=self.rebuild == "together").float()
            pred = model.unpatchify(logits)
            target = pixels[:, list(frames)]
            flat = model.loss_terms(pred.flatten(0, 1), target.flatten(0, 1), terms=self.loss_terms)
        terms = {k: v.float().reshape(B, R) for k, v in flat.items()}
        return {"logits": logits, "pred": pred, "target": target, "terms": terms,
                "loss": model.weighted_loss(terms)}

    @torch.inference_mode()
    def _reconstruct(self, clips: np.ndarray, gaze: GazeResult, frames: list[int]) -> Reconstruction:
        start_time = time.perf_counter()
        self.check_gaze(gaze)
        pixels = self.preprocess(clips)
        seconds = {"preprocess": time.perf_counter() - start_time}
        wanted = sorted(set(frames))
        done: dict[int, tuple[torch.Tensor, ...]] = {}
        for start in range(0, clips.shape[1], self.clip_len):
            local = [f - start for f in wanted if start <= f < start + self.clip_len]
            if not local:
                continue
            # Attention is block-causal in time: frames after the last one asked for cannot matter.
            stop = start + max(local) + 1
            log.info("VideoMAE: rebuilding %d frame(s) of frames %d-%d", len(local), start, stop - 1)
            out = self.rebuild_clip(pixels[:, start:stop], *self.clip_gaze(gaze, start, stop), local)
            for i, f in enumerate(local):
                done[start + f] = (out["pred"][:, i], out["target"][:, i], out["loss"][:, i],
                                   {k: v[:, i] for k, v in out["terms"].items()})
        pred = torch.stack([done[f][0] for f in frames], 1)
        target = torch.stack([done[f][1] for f in frames], 1)
        loss = torch.stack([done[f][2] for f in frames], 1)
        terms = {TERM_NAMES[k]: torch.stack([done[f][3][k] for f in frames], 1).cpu() for k in self.loss_terms}
        pred_u8, target_u8 = denormalize(pred), denormalize(target)
        seconds["reconstruct"] = time.perf_counter() - start_time
        return Reconstruction(
            frames=pred_u8.cpu(), normalized=pred.float().cpu(), frame_indices=torch.tensor(frames),
            loss=loss.float().cpu(), terms=terms, psnr=metrics.psnr(pred_u8, target_u8).cpu(),
            ssim=metrics.ssim(pred_u8, target_u8).cpu(), reconstructor=self.name, seconds=seconds)


# ---- loading -----------------------------------------------------------------------------------
def load_videomae(name_or_path: str = HUB_ID, device=None, config=None, *, cache_dir=None, revision=None,
                  **kwargs) -> VideoMAEReconstructor:
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
    check(any(k.removeprefix("module.").removeprefix("mae.").startswith("vit.embeddings.") for k in state),
          f"{src} does not look like a VideoMAE_AutoGaze checkpoint (no vit.embeddings.* keys)")
    cast = None
    if dtype is not None:
        check(dtype in ("float32", "bfloat16", "float16"), f"dtype must be float32, bfloat16 or float16, got {dtype}")
        cast = getattr(torch, dtype)
    tensors = {k: (v.to(cast) if cast is not None and v.is_floating_point() else v).contiguous()
               for k, v in state.items()}
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


__all__ = ["VideoMAEReconstructor", "load_videomae", "convert_checkpoint", "read_state_dict",
           "match_state_dict", "build_model", "resolve_config", "task_frames", "HUB_ID"]
