"""The AutoGaze gazer: loads a published checkpoint and gazes like the reference implementation.

`load_autogaze(name_or_path)` accepts a hub id (`nvidia/AutoGaze`, `bfshi/AutoGaze`; fetched with
huggingface_hub, which respects `HF_HUB_OFFLINE` and the local cache), a local folder with
`config.json`, `model.safetensors` and `preprocessor_config.json`, or a `.safetensors` file with a
config beside it (or passed as `config=`). Weights are checked key by key and cast to float32.

`AutoGazeGazer` offers three ways to gaze:

- `gaze(video, ...)`: a clip or a batch of clips at once; `target_scales` / `target_patch_size`
  retarget the gazes to another resolution by tiles (the reference's `input_res_adapt`).
- `stream(frames, ...)`: one frame at a time, carrying the conv and KV caches; each yielded
  `GazeResult` holds that frame only (frame-local ids) and equals the matching frame of `gaze`.
- `gaze_video(video, ...)`: a whole video of any length and aspect ratio, cut into 16-frame
  chunks and square tiles that are gazed in batches; `VideoGaze` maps the gazes back to the
  original frame's pixels.

The predicted loss (the task-loss head) is reported per gaze in `GazeResult.loss`: the entry of
a gaze is the model's prediction of the frame's reconstruction loss once that gaze is added
(see docs/autogaze.md). `GazeResult.frame_loss[b, t]` is that value at the frame's last real gaze.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..device import autocast
from ..checkpoints import header_shapes, inside
from ..errors import PlaygroundError, check
from ..hub import hub_snapshot
from ..gaze import GazeResult
from ..geometry import MultiScaleGrid
from ..models.autogaze_model import AutoGazeConfig, AutoGazeNet, FrameGaze, GazeSession, llama3_inv_freq
from .base import Gazer, check_threshold, frame_budgets

CHECKPOINT_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")
IGNORED_KEY_SUFFIXES = ("rotary_emb.inv_freq",)  # non-persistent buffer; ignore if a file has it
DEFAULT_PREPROCESSOR = {
    "do_resize": True, "size": {"shortest_edge": 224}, "resample": 2, "do_rescale": True,
    "rescale_factor": 1 / 127.5, "offset": True, "do_normalize": True,
    "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
}
CLIP_LEN = 16  # frames per chunk in gaze_video: the clip length AutoGaze was trained on


# ---- preprocessing (the published AutoGazeImageProcessor) -----------------------------------


class Preprocessor:
    """uint8 RGB frames -> the gazer's normalised pixels, as `AutoGazeImageProcessor` computes them.

    Resizing (shortest edge to 224, long edge floored, PIL bilinear) happens only when a frame's
    short side differs; the normalisation `((x * rescale_factor - 1) - mean) / std` is looked up
    from a 256-entry table computed with the processor's op order (float64 rescale, then float32).
    """

    def __init__(self, config: dict[str, Any] | None = None):
        cfg = dict(DEFAULT_PREPROCESSOR)
        cfg.update(config or {})
        self.config = cfg
        size = cfg.get("size") or {}
        self.shortest_edge = int(size.get("shortest_edge", 224)) if cfg.get("do_resize", True) else None
        check(int(cfg.get("resample", 2)) == 2, "only bilinear resampling (resample=2) is supported")
        check(not cfg.get("do_center_crop", False), "preprocessor_config.json asks for a centre crop; AutoGaze squashes")
        values = np.arange(256, dtype=np.float64)
        if cfg.get("do_rescale", True):
            values = values * float(cfg.get("rescale_factor", 1 / 127.5))
        values = values.astype(np.float32)
        if cfg.get("offset", True):
            values = values - np.float32(1)
        lut = np.repeat(values[None], 3, axis=0)  # (3, 256)
        if cfg.get("do_normalize", True):
            mean = np.asarray(cfg.get("image_mean"), dtype=np.float32)[:, None]
            std = np.asarray(cfg.get("image_std"), dtype=np.float32)[:, None]
            lut = (lut - mean) / std
        self.lut = torch.from_numpy(np.ascontiguousarray(lut, dtype=np.float32))

    def resize_shape(self, height: int, width: int) -> tuple[int, int]:
        """(H, W) after the shortest-edge resize (unchanged without resizing)."""
        if self.shortest_edge is None or min(height, width) == self.shortest_edge:
            return height, width
        short, long = min(height, width), max(height, width)
        new_long = int(self.shortest_edge * long / short)
        return (self.shortest_edge, new_long) if height <= width else (new_long, self.shortest_edge)

    def __call__(self, frames: np.ndarray, size: tuple[int, int] | None = None) -> torch.Tensor:
        """uint8 (..., H, W, 3) -> float32 (..., 3, h, w).

        Args:
            frames: uint8 RGB frames.
            size: (h, w) to resize to instead of the shortest-edge rule (PIL bilinear).
        """
        lead, (H, W) = frames.shape[:-3], frames.shape[-3:-1]
        h, w = size or self.resize_shape(H, W)
        if (h, w) != (H, W):
            frames = _pil_resize(frames.reshape(-1, H, W, 3), h, w).reshape(*lead, h, w, 3)
        x = torch.from_numpy(np.ascontiguousarray(frames)).long()
        out = torch.stack([self.lut[c][x[..., c]] for c in range(3)], dim=-3)
        return out


def _pil_resize(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 (N, H, W, 3) -> (N, height, width, 3) with PIL bilinear (antialiased), like the HF processor."""
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.BILINEAR)) for f in frames])


# ---- loading --------------------------------------------------------------------------------


def load_autogaze(name_or_path: str, device: str | torch.device | None = None, config: Any = None,
                  revision: str | None = None, cache_dir: str | Path | None = None, **kwargs) -> "AutoGazeGazer":
    """Load an AutoGaze checkpoint as a gazer.

    Args:
        name_or_path: a hub id (`nvidia/AutoGaze`), a folder with `config.json` +
            `model.safetensors` (+ `preprocessor_config.json`), or a `.safetensors` file.
        device: where to run (default: $PLAYGROUND_DEVICE, else CUDA when available, else CPU).
        config: for a bare `.safetensors` file: the config as a dict or a path to `config.json`
            (default: the `config.json` beside the file).
        revision: hub revision (branch, tag or commit) for hub ids.
        cache_dir: hub cache folder (default: huggingface_hub's, $HF_HUB_CACHE).
        **kwargs: passed to `AutoGazeGazer` (`bf16`, `predict_loss`, `seed`, `clip_len`).

    Returns:
        An `AutoGazeGazer`.

    Raises:
        PlaygroundError: missing files, an id that is neither cached nor reachable, a config that
            is not AutoGaze's, or weights whose keys or shapes do not match.
    """
    source = str(name_or_path)
    path = Path(source).expanduser()
    if path.is_dir():
        folder, weights = path, path / "model.safetensors"
    elif path.is_file():
        check(path.suffix == ".safetensors", f"{path} is not a .safetensors file or a checkpoint folder")
        folder, weights = path.parent, path
    else:
        folder = _download(source, revision, cache_dir)
        weights = folder / "model.safetensors"
    check(weights.is_file(), f"{folder} has no model.safetensors")
    if not path.is_file():  # a weights file named directly may live anywhere; files found in a folder lie inside it
        weights = inside(folder, weights)
    cfg_dict = _read_config(config if config is not None else inside(folder, folder / "config.json"))
    pre_path = folder / "preprocessor_config.json"
    preprocessor = _read_json(inside(folder, pre_path)) if pre_path.is_file() else None
    net = build_net(AutoGazeConfig.from_dict(cfg_dict), weights)
    load_weights(net, weights)
    return AutoGazeGazer(net, preprocessor=preprocessor, device=device, source=source, **kwargs)


def _download(repo_id: str, revision: str | None, cache_dir: str | Path | None) -> Path:
    """Fetch (or find in the cache) the checkpoint files of a hub repo; one-line errors."""
    check(repo_id.count("/") == 1 and not repo_id.startswith((".", "/")),
          f"no such file or folder, and not a hub id like 'nvidia/AutoGaze': {repo_id}")
    return hub_snapshot(repo_id, CHECKPOINT_FILES, revision, cache_dir)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise PlaygroundError(f"cannot read {path}: {exc}") from exc
    check(isinstance(data, dict), f"{path} is not a JSON object")
    return data


def _read_config(config: Any) -> dict[str, Any]:
    if isinstance(config, dict):
        return config
    path = Path(config)
    check(path.is_file(), f"no config.json at {path}: pass config= with the checkpoint's config")
    return _read_json(path)


def _indices(keys: Iterable[str], prefix: str) -> int:
    """How many entries `prefix.N.` of a module list the keys hold."""
    return len({k[len(prefix):].split(".", 1)[0] for k in keys if k.startswith(prefix)})


def build_net(cfg: AutoGazeConfig, weights: str | Path) -> AutoGazeNet:
    """The model of `cfg` on the meta device, once its shapes match the tensors in `weights`' header.

    Nothing real is allocated before the check, so a config with absurd sizes fails at once in one
    line; `load_weights` then fills in the checkpoint's tensors.
    """
    shapes = {k: v for k, v in header_shapes(weights).items() if not k.endswith(IGNORED_KEY_SUFFIXES)}
    for count, prefix, what in ((cfg.num_layers, "gazing_model.gaze_decoder.model.layers.", "decoder layers"),
                                (cfg.vision_depth, "gazing_model.vision_model.blocks.", "vision blocks")):
        held = _indices(shapes, prefix)
        check(count == held, f"config.json asks for {count} {what} but {Path(weights).name} holds {held}")
    try:
        with torch.device("meta"):
            net = AutoGazeNet(cfg)
    except (RuntimeError, OverflowError) as exc:  # sizes past what any tensor can hold, even on meta
        raise PlaygroundError(f"config.json sizes do not fit {Path(weights).name}: {str(exc).splitlines()[0]}") from exc
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    if missing or unexpected:
        raise PlaygroundError(f"{weights} does not match the AutoGaze architecture of its config: "
                              f"missing keys {_few(missing)}; unexpected keys {_few(unexpected)}")
    for key, shape in shapes.items():
        check(shape == expected[key], f"{weights}: tensor {key} has shape {shape}, the config needs {expected[key]}")
    return net


def load_weights(net: AutoGazeNet, weights: str | Path) -> None:
    """Load a safetensors state dict into `net` (real or meta, from `build_net`) strictly, as float32."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise PlaygroundError(f"cannot read {weights}: {exc}") from exc
    state = {k: v for k, v in state.items() if not k.endswith(IGNORED_KEY_SUFFIXES)}
    expected = net.state_dict()
    check(set(state) == set(expected), f"{weights} does not match the AutoGaze architecture of its config")
    for key, value in state.items():
        check(value.is_floating_point(), f"{weights}: tensor {key} has non-float dtype {value.dtype}")
        check(tuple(value.shape) == tuple(expected[key].shape),
              f"{weights}: tensor {key} has shape {tuple(value.shape)}, the config needs {tuple(expected[key].shape)}")
    net.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True, assign=True)
    net.inv_freq = llama3_inv_freq(net.cfg)  # the one non-persistent buffer, on the meta device until now


def _few(keys: list[str], limit: int = 5) -> str:
    if not keys:
        return "none"
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


# ---- the gazer ------------------------------------------------------------------------------


@dataclass
class _Clips:
    """Raw per-frame gazes of a batch of clips on the model's own slot grid."""

    frames: list[FrameGaze]  # (T,) one per frame
    steps: int  # decoder calls


class AutoGazeGazer(Gazer):
    """AutoGaze: a 3M-parameter model that picks multi-scale patches autoregressively.

    Args:
        net: the loaded model.
        preprocessor: the checkpoint's `preprocessor_config.json` content (None: the published one).
        device: where to run.
        source: where the weights came from (shown in results).
        bf16: run the model under bf16 autocast on CUDA (no effect on CPU). Gazes may then differ
            from float32 where two candidates score nearly the same.
        predict_loss: fill `GazeResult.loss` completely (costs one small decoder call per frame
            when a frame ends on a full step); False leaves those entries NaN.
        seed: seeds the draws of a checkpoint whose default knobs are sampled ('uniform'
            inference strategy), used only when a call gives neither knob.
        clip_len: restart the conv and KV caches every `clip_len` frames in `gaze` and `stream`
            (the model was trained on 16-frame clips; this also bounds memory and the attention
            history on long videos). None carries the caches over every frame, as the reference.
    """

    name = "autogaze"
    loss_kind = "predicted"

    def __init__(self, net: AutoGazeNet, preprocessor: dict[str, Any] | None = None,
                 device: str | torch.device | None = None, source: str = "", bf16: bool = False,
                 predict_loss: bool = True, seed: int | None = None, clip_len: int | None = None):
        cfg = net.cfg
        counts = cfg.slots_per_scale
        finest = math.isqrt(counts[-1])
        check(finest * finest == counts[-1], f"the finest scale has {counts[-1]} slots, not a square grid")
        grid = MultiScaleGrid(cfg.scales, cfg.scales[-1] // finest)
        check(list(grid.counts) == counts, f"scales {cfg.scales} do not give square per-scale grids {counts}")
        super().__init__(grid, device)
        self.cfg = cfg
        self.net = net.to(self.device).eval().fuse()
        self.preprocess = Preprocessor(preprocessor)
        self.source = source
        self.bf16 = bf16
        self.predict_loss = predict_loss
        self.rng = np.random.default_rng(seed)
        check(clip_len is None or (isinstance(clip_len, int) and clip_len > 0),
              f"clip_len must be a positive whole number of frames or None, got {clip_len!r}")
        self.clip_len = clip_len

    def __repr__(self) -> str:
        return f"AutoGazeGazer(source={self.source!r}, device={self.device}, grid={self.grid.describe()!r})"

    # ---- knobs ------------------------------------------------------------------------------
    def _knobs(self, gazing_ratio, task_loss_requirement, num_frames: int) -> tuple[list[int], float | None, dict]:
        """Per-frame budgets and the threshold, with the reference's rules for missing knobs."""
        threshold = check_threshold(task_loss_requirement)
        used = {"gazing_ratio": gazing_ratio, "task_loss_requirement": threshold}
        if gazing_ratio is None and threshold is None:
            # Neither knob: the checkpoint's inference defaults (the reference's config path).
            cfg = self.cfg
            check(cfg.per_frame_strategy == "uniform",
                  f"this checkpoint splits its default budget over frames with the {cfg.per_frame_strategy!r} "
                  "strategy, which the playground does not reproduce: pass gazing_ratio explicitly")
            gazing_ratio = cfg.default_gazing_ratio.draw(self.rng, "gazing ratio")
            threshold = cfg.default_task_loss_requirement.draw(self.rng, "task-loss requirement")
            used = {"gazing_ratio": gazing_ratio, "task_loss_requirement": threshold,
                    "defaults": f"{cfg.default_gazing_ratio.strategy} / {cfg.default_task_loss_requirement.strategy}"}
        budgets = frame_budgets(gazing_ratio, num_frames, self.cfg.num_slots)
        return budgets, threshold, used

    # ---- gazing -----------------------------------------------------------------------------
    def gaze(self, video: Any, gazing_ratio: float | Sequence[float] | None = None,
             task_loss_requirement: float | None = None, target_scales: Sequence[int] | None = None,
             target_patch_size: int | None = None, **kwargs) -> GazeResult:
        """Gaze a clip or a batch of clips, as the reference's `AutoGaze.forward(generate_only=True)`.

        Args:
            video: uint8 (T,H,W,3) or (B,T,H,W,3), or a path.
            gazing_ratio: most slots per frame as a fraction of 265 (float or per-frame list).
            task_loss_requirement: a frame stops once the predicted loss is at or below this.
                Neither knob given: the checkpoint's defaults (ratio 0.75, threshold 0.7).
            target_scales, target_patch_size: gaze for another multi-scale grid (e.g. 64/128/224/448
                at patch 16): frames are brought to target_scales[-1] square, cut into tiles of
                14 patches, each tile gazed at 224, and the tile gazes merged onto the target grid
                (ascending id order per frame, -1 + S*t padding, as the reference).

        Returns:
            GazeResult (B clips, T frames); `loss` holds the predicted loss after each gaze.
        """
        from ..video import as_clips

        check(not kwargs, f"unknown gaze options: {sorted(kwargs)}")
        clips = as_clips(video)
        B, T = clips.shape[:2]
        budgets, threshold, used = self._knobs(gazing_ratio, task_loss_requirement, T)
        start = time.perf_counter()
        retarget = self._retarget_grid(target_scales, target_patch_size)
        if retarget is None:
            result = self._gaze_clips(clips, budgets, threshold)
        else:
            result = self._gaze_retargeted(clips, retarget, budgets, threshold)
        result.seconds["gaze"] = time.perf_counter() - start
        result.gazer = self.name
        result.loss_kind = self.loss_kind
        result.settings.update(used, source=self.source, clip_len=self.clip_len, threshold_unit=self.threshold_unit)
        if retarget is not None:
            result.settings.update(target_scales=list(retarget.scales), target_patch_size=retarget.patch_size)
        return result

    def _gaze_clips(self, clips: np.ndarray, budgets: list[int], threshold: float | None, **kwargs) -> GazeResult:
        """uint8 clips (B, T, H, W, 3) on the model's own grid -> GazeResult."""
        return _to_result(self._gaze_tensor(self.preprocess(clips), budgets, threshold), self.grid)

    def _gaze_tensor(self, x: torch.Tensor, budgets: list[int], threshold: float | None) -> _Clips:
        """Normalised clips (B, T, 3, H, W) -> per-frame gazes; each `clip_len` piece encoded at once."""
        B, T = x.shape[:2]
        K = self.cfg.num_multi_token_pred
        step = self.clip_len or T
        frames = []
        with torch.inference_mode(), autocast(self.device, self.bf16):
            for first in range(0, T, step):  # fresh caches for every piece
                piece = budgets[first:first + step]
                capacity = sum(self.cfg.tokens_per_frame + b + 2 * K for b in piece)
                session = GazeSession(self.net, B, capacity=capacity, predict_loss=self.predict_loss)
                feats = session.encode(x[:, first:first + step])
                frames += [session.frame(feats[:, t], budget, threshold) for t, budget in enumerate(piece)]
        return _Clips(frames, sum(f.steps for f in frames))

    def stream(self, frames: Any, gazing_ratio: float | Sequence[float] | None = None,
               task_loss_requirement: float | None = None, **kwargs) -> Iterator[GazeResult]:
        """Gaze frame by frame with the conv and KV caches; yields one `GazeResult` per frame.

        Args:
            frames: a clip or batch of clips (as `gaze`), or any iterable of uint8 frames
                (H,W,3) or (B,H,W,3) (e.g. a live source; then `gazing_ratio` must be a float).
            gazing_ratio, task_loss_requirement: as in `gaze`.

        Yields:
            GazeResult with T = 1 and frame-local ids; `concat_frames` of them equals `gaze`.
        """
        check(not kwargs, f"stream does not take {sorted(kwargs)} (retargeting needs the whole clip: use gaze)")
        source, total = _frame_source(frames)
        check(total is not None or gazing_ratio is None or np.isscalar(gazing_ratio),
              "a live stream of frames takes a single float gazing_ratio, not a per-frame list")
        budgets, threshold, used = self._knobs(gazing_ratio, task_loss_requirement, total or 1)
        session = None
        for t, frame in enumerate(source):
            start = time.perf_counter()
            x = self.preprocess(frame)[:, None]  # (B, 1, 3, h, w)
            budget = budgets[t] if total else budgets[0]
            with torch.inference_mode(), autocast(self.device, self.bf16):
                if session is None or (self.clip_len and t % self.clip_len == 0):
                    session = GazeSession(self.net, x.shape[0], predict_loss=self.predict_loss)
                check(x.shape[0] == session.batch, "every streamed frame must have the same batch size")
                out = session.frame(session.encode(x)[:, 0], budget, threshold)
            result = _to_result(_Clips([out], out.steps), self.grid)
            result.seconds["gaze"] = time.perf_counter() - start
            result.gazer, result.loss_kind = self.name, self.loss_kind
            result.settings.update(used, source=self.source, frame=t, clip_len=self.clip_len,
                                   threshold_unit=self.threshold_unit)
            yield result

    # ---- retargeting (the reference's input_res_adapt) -----------------------------------------
    def _retarget_grid(self, target_scales, target_patch_size) -> MultiScaleGrid | None:
        """The target grid, or None when the knobs are absent or equal the model's own grid."""
        if target_scales is None and target_patch_size is None:
            return None
        check(target_scales is not None and target_patch_size is not None,
              "give target_scales and target_patch_size together")
        scales = sorted(int(s) for s in target_scales)
        patch = int(target_patch_size)
        check(len(scales) == len(self.grid.scales),
              f"target_scales needs {len(self.grid.scales)} scales like the model's {list(self.grid.scales)}, got {scales}")
        grid = MultiScaleGrid(tuple(scales), patch)
        if tuple(scales) == self.grid.scales and list(grid.counts) == list(self.cfg.slots_per_scale):
            return None
        return grid

    def _gaze_retargeted(self, clips: np.ndarray, target: MultiScaleGrid, budgets: list[int],
                         threshold: float | None) -> GazeResult:
        """Tile, gaze every tile on the model grid, and merge the tile gazes onto the target grid."""
        B, T, H, W = clips.shape[:4]
        side = target.canvas
        x = self.preprocess(clips, size=(side, side))  # squash to the target canvas (identity if already square)
        tile_sides = self.grid.sides
        n = math.ceil(target.sides[-1] / tile_sides[-1])  # tiles per side
        tile_px = tile_sides[-1] * target.patch_size
        pad = n * tile_px - side
        x = F.pad(x, (0, pad, 0, pad))  # zeros in normalised space, right and bottom
        tiles = x.view(B, T, 3, n, tile_px, n, tile_px).permute(0, 3, 5, 1, 2, 4, 6).reshape(B * n * n, T, 3, tile_px, tile_px)
        raw = self._gaze_tensor(tiles, budgets, threshold)
        return _merge_tiles(raw, self.grid, target, B, n)

    # ---- whole videos -----------------------------------------------------------------------
    def gaze_video(self, video: Any, gazing_ratio: float | None = None, task_loss_requirement: float | None = None,
                   tile: int | None = None, clip_len: int = CLIP_LEN, batch_size: int = 8,
                   progress: Callable[[int, int | None], None] | None = None) -> "VideoGaze":
        """Gaze a whole video of any length and size by 16-frame chunks and square tiles.

        Every chunk of `clip_len` frames of every tile is an independent clip (caches are not
        carried across chunks: the model was trained on 16-frame clips, and this keeps memory
        bounded by `batch_size` clips whatever the video length). Clips are gazed `batch_size`
        at a time as the frames arrive; a last, shorter chunk is gazed in batches of its own.

        Args:
            video: uint8 (T, H, W, 3), a path, or an iterable of uint8 (H, W, 3) frames (read
                lazily: then only one chunk and one batch of clips are held at a time).
            gazing_ratio: float cap per frame and tile, as in `gaze`.
            task_loss_requirement: as in `gaze`.
            tile: tile side in original pixels (default: the frame's short side, so a square frame
                is one tile and a 16:9 frame two). The frame is padded right and bottom to whole
                tiles with the colour that normalises to ~0 (as the reference pads), and each tile
                is resized to 224 like any clip.
            clip_len: frames per chunk.
            batch_size: clips (chunk x tile) gazed together.
            progress: called as progress(done_clips, total_clips or None) after every batch.

        Returns:
            VideoGaze: per-tile gazes over all frames and their mapping to frame pixels.
        """
        check(isinstance(clip_len, int) and clip_len > 0, f"clip_len must be a positive integer, got {clip_len!r}")
        check(isinstance(batch_size, int) and batch_size > 0, f"batch_size must be a positive integer, got {batch_size!r}")
        check(gazing_ratio is None or np.isscalar(gazing_ratio), "gaze_video takes a single float gazing_ratio")
        source, total = _frame_source(video)
        start = time.perf_counter()
        layout, queue, results = None, [], {}
        n_chunks, done = 0, 0

        def run(batch: list) -> None:
            nonlocal done
            result = self.gaze(np.stack([clip for _, clip in batch]), gazing_ratio=gazing_ratio,
                               task_loss_requirement=task_loss_requirement)
            for j, (unit, _) in enumerate(batch):
                results[unit] = result.clip(j)
            done += len(batch)
            if progress is not None:
                todo = None if total is None else math.ceil(total / clip_len) * layout.num_tiles
                progress(done, todo)

        for chunk in _chunks(source, clip_len):
            if layout is None:
                H, W = chunk.shape[1:3]
                layout = padded_tile_layout(H, W, int(tile or min(H, W)))
            check(chunk.shape[1:3] == (layout.height, layout.width), "every frame of a video must have the same size")
            for k, clip in enumerate(pad_tiles(chunk, layout)):
                queue.append(((n_chunks, k), clip))
            n_chunks += 1
            while len(queue) >= batch_size and len(queue[0][1]) == len(queue[batch_size - 1][1]):
                run(queue[:batch_size])
                del queue[:batch_size]
        for length in sorted({len(clip) for _, clip in queue}, reverse=True):
            group = [item for item in queue if len(item[1]) == length]
            for i in range(0, len(group), batch_size):
                run(group[i:i + batch_size])
        check(layout is not None, "the video has zero frames")
        gaze = _join_chunks([[results[(c, k)] for c in range(n_chunks)] for k in range(layout.num_tiles)])
        gaze.gazer, gaze.loss_kind = self.name, self.loss_kind
        gaze.seconds = {"gaze": time.perf_counter() - start}
        gaze.settings = {"gazing_ratio": gazing_ratio, "task_loss_requirement": task_loss_requirement,
                         "tile": layout.tile, "clip_len": clip_len, "batch_size": batch_size, "source": self.source}
        return VideoGaze(gaze=gaze, layout=layout, clip_len=clip_len)


def _chunks(frames: Iterable[np.ndarray], clip_len: int) -> Iterator[np.ndarray]:
    """(1, H, W, 3) frames -> consecutive uint8 (clip_len, H, W, 3) chunks (the last may be shorter)."""
    buffer = []
    for frame in frames:
        check(frame.shape[0] == 1, f"gaze_video takes one video, got a batch of {frame.shape[0]}")
        buffer.append(frame[0])
        if len(buffer) == clip_len:
            yield np.stack(buffer)
            buffer = []
    if buffer:
        yield np.stack(buffer)


# ---- tiles of whole videos ------------------------------------------------------------------

PAD_RGB = (189, 186, 179)  # uint8 colour whose normalised value is ~0 (127.5 * (1 + ImageNet mean))


def padded_tile_layout(height: int, width: int, tile: int):
    """Row-major square tiles covering an (H, W) frame padded right/bottom to whole tiles."""
    from ..video import TileLayout

    rows, cols = math.ceil(height / tile), math.ceil(width / tile)
    origins = tuple((r * tile, c * tile) for r in range(rows) for c in range(cols))
    return TileLayout(height, width, tile, 0, rows, cols, origins)


def pad_tiles(frames: np.ndarray, layout) -> np.ndarray:
    """uint8 (T, H, W, 3) -> (tiles, T, tile, tile, 3) on the padded grid of `layout`."""
    T, H, W = frames.shape[:3]
    n = layout.tile
    canvas = np.empty((T, layout.rows * n, layout.cols * n, 3), dtype=np.uint8)
    canvas[...] = PAD_RGB
    canvas[:, :H, :W] = frames
    tiles = canvas.reshape(T, layout.rows, n, layout.cols, n, 3).transpose(1, 3, 0, 2, 4, 5)
    return np.ascontiguousarray(tiles.reshape(layout.num_tiles, T, n, n, 3))


# ---- building results -----------------------------------------------------------------------


def _to_result(raw: _Clips, grid: MultiScaleGrid) -> GazeResult:
    """Per-frame gazes (EOS-padded local ids) -> GazeResult with the reference's global ids."""
    S = grid.num_slots
    pos, pad, loss, counts = [], [], [], []
    for t, f in enumerate(raw.frames):
        padded = f.ids == S
        pos.append(torch.from_numpy(f.ids + S * t))  # a pad (id S) becomes S * (t + 1), as the reference
        pad.append(torch.from_numpy(padded))
        loss.append(torch.from_numpy(f.loss))
        counts.append(f.ids.shape[1])
    frame_loss = torch.from_numpy(np.stack([f.frame_loss for f in raw.frames], axis=1))
    result = GazeResult(torch.cat(pos, 1), torch.cat(pad, 1), torch.tensor(counts), grid=grid,
                        loss=torch.cat(loss, 1), frame_loss=frame_loss, loss_kind="predicted")
    result.settings["decoder_calls"] = raw.steps
    return result


def _merge_tiles(raw: _Clips, tile_grid: MultiScaleGrid, target: MultiScaleGrid, batch: int, n: int) -> GazeResult:
    """Tile gazes (B*n*n clips on the model grid) -> B clips on the target grid (reference's recovery)."""
    tiles = _to_result(raw, tile_grid)
    T = tiles.num_frames
    mask = tiles.slot_mask()  # (B*n*n, T, 265)
    loss_map = torch.full(mask.shape, float("nan"))
    _scatter_loss(tiles, loss_map)
    per_scale_mask, per_scale_loss = [], []
    for m, l, side, target_side in zip(tile_grid.split_scales(mask), tile_grid.split_scales(loss_map),
                                       tile_grid.sides, target.sides):
        for values, out in ((m, per_scale_mask), (l, per_scale_loss)):
            v = values.reshape(batch, n, n, T, side, side).permute(0, 3, 1, 4, 2, 5).reshape(batch, T, n * side, n * side)
            out.append(v[:, :, :target_side, :target_side].flatten(2))
    full_mask = torch.cat(per_scale_mask, -1)  # (B, T, S_target)
    full_loss = torch.cat(per_scale_loss, -1)
    S = target.num_slots
    counts = full_mask.sum(-1).amax(0)  # (T,) the batch shares each frame's length
    pos, pad, loss = [], [], []
    for t in range(T):
        n_t = int(counts[t])
        ids = torch.full((batch, n_t), -1, dtype=torch.int64)
        vals = torch.full((batch, n_t), float("nan"))
        for b in range(batch):
            kept = torch.nonzero(full_mask[b, t]).flatten()  # ascending: the gaze order is lost
            ids[b, :len(kept)] = kept
            vals[b, :len(kept)] = full_loss[b, t, kept]
        pos.append(ids + S * t)
        pad.append(ids < 0)
        loss.append(vals)
    frame_loss = tiles.frame_loss.reshape(batch, n * n, T).nanmean(1)
    result = GazeResult(torch.cat(pos, 1), torch.cat(pad, 1), counts.to(torch.int64), grid=target,
                        loss=torch.cat(loss, 1), frame_loss=frame_loss, loss_kind="predicted")
    result.settings.update(tiles=n * n, decoder_calls=raw.steps)
    return result


def _scatter_loss(result: GazeResult, out: torch.Tensor) -> None:
    """Write each real gaze's loss into (B, T, S) at its slot."""
    S = result.grid.num_slots
    frame = result.frame_of_entry
    real = ~result.if_padded_gazing
    b_idx, n_idx = torch.nonzero(real, as_tuple=True)
    out[b_idx, frame[n_idx], result.gazing_pos[b_idx, n_idx] % S] = result.loss[b_idx, n_idx]


def _join_chunks(per_tile: list[list[GazeResult]]) -> GazeResult:
    """Single-clip chunk results, `per_tile[k][c]` -> one batch (B = tiles) over all frames.

    Frames are padded to the longest tile, as in any batch.
    """
    slots, losses, frame_loss = [], [], []
    for chunks in per_tile:
        slots.append([r.frame_slots(0, t).tolist() for r in chunks for t in range(r.num_frames)])
        losses.append([r._frame_values(r.loss, 0, t).tolist() for r in chunks for t in range(r.num_frames)])
        frame_loss.append(torch.cat([r.frame_loss for r in chunks], 1))
    return GazeResult.from_frame_slots(slots, per_tile[0][0].grid, losses=losses, frame_loss=torch.cat(frame_loss, 0),
                                       loss_kind="predicted")


def _frame_source(frames: Any) -> tuple[Iterable[np.ndarray], int | None]:
    """A clip/batch/path -> its frames (B, H, W, 3) in order and T; an iterable -> itself, None."""
    from ..video import as_clips

    if isinstance(frames, (str, Path, np.ndarray, torch.Tensor)):
        clips = as_clips(frames)
        return (clips[:, t] for t in range(clips.shape[1])), clips.shape[1]

    def frames_of(items):
        for f in items:
            f = f.detach().cpu().numpy() if isinstance(f, torch.Tensor) else np.asarray(f)
            check(f.dtype == np.uint8 and f.ndim in (3, 4) and f.shape[-1] == 3,
                  f"streamed frames must be uint8 (H,W,3) or (B,H,W,3), got {f.dtype} {tuple(f.shape)}")
            yield f if f.ndim == 4 else f[None]

    check(isinstance(frames, Iterable), f"cannot stream frames from {type(frames).__name__}")
    return frames_of(frames), None


# ---- whole-video result ---------------------------------------------------------------------


@dataclass
class VideoGaze:
    """AutoGaze gazes of a whole video, per tile, with the way back to the video's pixels.

    `gaze` has one clip per tile (B = tiles, row-major as in `layout.origins`) and every frame of
    the video (T); its slot ids refer to the tile's own 224-pixel canvas (`gaze.grid`). A slot box
    (y0, x0, y1, x1) on that canvas covers `box * layout.tile / 224` pixels of the tile, which sits
    at `layout.origins[k]` in the frame (`boxes` does this for you).
    """

    gaze: GazeResult  # (B = tiles, T = video frames) per-tile gazes, frames of all chunks concatenated
    layout: Any  # playground.video.TileLayout: tile size and origins in the original frame
    clip_len: int  # frames per independently gazed chunk
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return self.gaze.num_frames

    def boxes(self, frame: int) -> dict[str, np.ndarray]:
        """The gazed patches of one frame in original-frame pixels.

        Returns:
            dict with `boxes` (n, 4) int64 (y0, x0, y1, x1) end-exclusive, clipped to the frame;
            `scale` (n,) scale index (0 = coarsest); `tile` (n,) tile index; `slot` (n,) local id
            on the tile grid; `loss` (n,) predicted loss after that gaze. Boxes that fall wholly
            in a tile's padding are dropped.
        """
        check(0 <= frame < self.num_frames, f"frame {frame} is outside 0..{self.num_frames - 1}")
        grid, layout = self.gaze.grid, self.layout
        rows = {"boxes": [], "scale": [], "tile": [], "slot": [], "loss": []}
        for k in range(self.gaze.batch_size):
            slots = self.gaze.frame_slots(k, frame)
            if not len(slots):
                continue
            local = np.round(grid.boxes(slots) * (layout.tile / grid.canvas)).astype(np.int64)
            boxes = layout.to_frame(k, local)
            keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
            rows["boxes"].append(boxes[keep])
            rows["scale"].append(grid.split_local(slots)[0][keep])
            rows["tile"].append(np.full(int(keep.sum()), k))
            rows["slot"].append(slots[keep])
            rows["loss"].append(self.gaze._frame_values(self.gaze.loss, k, frame).numpy()[keep])
        empty = {"boxes": np.zeros((0, 4), np.int64)}
        return {key: np.concatenate(v) if v else empty.get(key, np.zeros(0)) for key, v in rows.items()}

    def coverage(self, frame: int) -> np.ndarray:
        """(H, W) int8: the finest scale index gazed at each pixel of the frame, -1 where none."""
        out = np.full((self.layout.height, self.layout.width), -1, dtype=np.int8)
        found = self.boxes(frame)
        for (y0, x0, y1, x1), s in zip(found["boxes"], found["scale"]):
            region = out[y0:y1, x0:x1]
            np.maximum(region, s, out=region)
        return out

    def summary(self) -> str:
        g = self.gaze
        return (f"{g.gazer}: {self.num_frames} frames of {self.layout.height}x{self.layout.width} as "
                f"{self.layout.num_tiles} tile(s) of {self.layout.tile} px; {g.num_gazed} gazes "
                f"({100 * g.kept_fraction:.1f}% of tile slots), {g.seconds.get('gaze', 0):.2f} s")
