"""The AutoGaze gazer: gazes a clip, a batch of clips or a stream like the reference implementation.

`AutoGazeGazer` wraps a loaded `AutoGazeNet` (see `loading.load_autogaze`) and offers:

- `gaze(video, ...)`: a clip or a batch of clips at once; `target_scales` / `target_patch_size`
  retarget the gazes to another resolution by tiles (the reference's `input_res_adapt`).
- `stream(frames, ...)`: one frame at a time, carrying the conv and KV caches; each yielded
  `GazeResult` holds that frame only (frame-local ids) and equals the matching frame of `gaze`.
- `gaze_video(video, ...)` (from `Gazer`): a whole video by chunks and tiles (`playground.whole_video`).

The per-frame decoding itself is `models.autogaze.GazeSession`; this module turns its raw
per-frame gazes (`_Clips`) into `GazeResult`s with the reference's global ids (B clips, T frames,
S slots per frame).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from ...calibration import UNCALIBRATED, Calibration
from ...device import autocast
from ...errors import check
from ...gaze import GazeResult
from ...geometry import MultiScaleGrid
from ...models.autogaze import AutoGazeNet, FrameGaze, GazeSession
from ...tiling import tile_layout
from ..base import Gazer, check_threshold, frame_budgets
from .measured import STOPS, MeasuredStop
from .preprocess import Preprocessor, frame_source


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
            (Not `gaze_video`'s `chunk_len`, the length of its independently gazed chunks.)
        static: decode `gaze`'s steps with fixed shapes over a static KV cache, captured once as a
            CUDA graph and replayed (`models.autogaze.StaticStep`). None (the default): on
            CUDA only. On a CPU it is slower (every step attends over the whole cache) and serves
            to prove the form equal to the dynamic one. `stream` always decodes dynamically.
        stop: how a frame ends at a threshold: "predicted" (the reference's rule: the task-loss
            head's prediction at or below it) or "measured" (the paint rebuild of the frame measured
            after each gaze, `measured.MeasuredStop`: exact for paint, one measure per gaze).
            `gaze` and `stream` take `stop=` too.
        calibration: a `playground.calibration.Calibration` for the predicted stop: a requested
            threshold t is handed to the head as `calibration.threshold_for(t)`, so that the
            calibration's reconstructor measures about t. None: t goes to the head as is (the
            reference). `load_gazer(..., calibration="auto")` finds `calibration.json` beside the weights.

    Attributes:
        config_json: the checkpoint's `config.json` content (set by `load_autogaze`; a trained
            copy is saved with it, see `playground.training.save_gazer`).
        on_phase: `GazeSession`'s phase-timing hook, passed to every session this gazer opens
            (None: no hook; see `benchmarks/autogaze_speed.py`).
        weights_file: the weights file it was loaded from (set by `load_autogaze`; a calibration
            names its SHA-256).
        calibration_note: what results say when there is no calibration (e.g. why "auto" found none).
    """

    name = "autogaze"
    loss_kind = "predicted"

    def __init__(
        self,
        net: AutoGazeNet,
        preprocessor: dict[str, Any] | None = None,
        device: str | torch.device | None = None,
        source: str = "",
        bf16: bool = False,
        predict_loss: bool = True,
        seed: int | None = None,
        clip_len: int | None = None,
        static: bool | None = None,
        stop: str = "predicted",
        calibration: Calibration | None = None,
    ):
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
        self.config_json: dict[str, Any] | None = None  # the checkpoint's config.json, kept for saving
        self.bf16 = bf16
        self.predict_loss = predict_loss
        self.rng = np.random.default_rng(seed)
        check(
            clip_len is None or (isinstance(clip_len, int) and clip_len > 0),
            f"clip_len must be a positive whole number of frames or None, got {clip_len!r}",
        )
        self.clip_len = clip_len
        self.static = self.device.type == "cuda" if static is None else bool(static)
        self.on_phase = None  # GazeSession's phase-timing hook, for every session this gazer opens
        self.stop = _check_stop(stop)
        check(
            calibration is None or isinstance(calibration, Calibration),
            "calibration must be a Calibration or None (load_gazer also takes 'auto' or a path)",
        )
        self.calibration = calibration
        self.calibration_note = UNCALIBRATED
        self.weights_file = None  # set by load_autogaze

    def __repr__(self) -> str:
        return f"AutoGazeGazer(source={self.source!r}, device={self.device}, grid={self.grid.describe()!r})"

    # ---- knobs ------------------------------------------------------------------------------
    def _knobs(
        self, gazing_ratio, task_loss_requirement, num_frames: int, stop: str | None = None
    ) -> tuple[list[int], float | None, dict]:
        """Per-frame budgets and the threshold that stops frames, with the reference's rules for missing knobs.

        With the predicted stop and a calibration, an explicit threshold is mapped to the head's
        (`settings["head_threshold"]`); the settings say how the threshold was read (`stop`,
        `calibration`, `calibrated_for`).
        """
        threshold = check_threshold(task_loss_requirement)
        used = {"gazing_ratio": gazing_ratio, "task_loss_requirement": threshold, **self._threshold_meaning(stop)}
        if used["stop"] == "predicted" and self.calibration is not None and threshold is not None:
            threshold = self.calibration.threshold_for(threshold)
            used["head_threshold"] = threshold
        if gazing_ratio is None and threshold is None:
            # Neither knob: the checkpoint's inference defaults (the reference's config path).
            cfg = self.cfg
            check(
                cfg.per_frame_strategy == "uniform",
                f"this checkpoint splits its default budget over frames with the {cfg.per_frame_strategy!r} "
                "strategy, which the playground does not reproduce: pass gazing_ratio explicitly",
            )
            gazing_ratio = cfg.default_gazing_ratio.draw(self.rng, "gazing ratio")
            threshold = cfg.default_task_loss_requirement.draw(self.rng, "task-loss requirement")
            used.update(
                gazing_ratio=gazing_ratio,
                task_loss_requirement=threshold,
                defaults=f"{cfg.default_gazing_ratio.strategy} / {cfg.default_task_loss_requirement.strategy}",
            )
            if used["stop"] == "predicted":  # the defaults are the head's own values: never mapped
                used.update(
                    calibration="none (the checkpoint's default threshold, in the head's units)", calibrated_for=None
                )
        budgets = frame_budgets(gazing_ratio, num_frames, self.cfg.num_slots)
        return budgets, threshold, used

    def _threshold_meaning(self, stop: str | None = None) -> dict[str, Any]:
        """`stop`, `calibration` (one line) and `calibrated_for` (the reconstructor the threshold is the loss of)."""
        stop = self.stop if stop is None else _check_stop(stop)
        if stop == "measured":
            return {
                "stop": stop,
                "calibration": "exact: measured stop (paint loss measured after each gaze)",
                "calibrated_for": "paint",
            }
        if self.calibration is None:
            return {"stop": stop, "calibration": self.calibration_note, "calibrated_for": None}
        return {
            "stop": stop,
            "calibration": self.calibration.describe(),
            "calibrated_for": self.calibration.reconstructor,
        }

    # ---- gazing -----------------------------------------------------------------------------
    def gaze(
        self,
        video: Any,
        gazing_ratio: float | Sequence[float] | None = None,
        task_loss_requirement: float | None = None,
        target_scales: Sequence[int] | None = None,
        target_patch_size: int | None = None,
        stop: str | None = None,
        **kwargs,
    ) -> GazeResult:
        """Gaze a clip or a batch of clips, as the reference's `AutoGaze.forward(generate_only=True)`.

        Args:
            video: uint8 (T,H,W,3) or (B,T,H,W,3), or a path.
            gazing_ratio: most slots per frame as a fraction of 265 (float or per-frame list).
            task_loss_requirement: a frame stops once the predicted loss is at or below this (through
                the gazer's calibration when it has one). Neither knob given: the checkpoint's
                defaults (ratio 0.75, threshold 0.7).
            target_scales, target_patch_size: gaze for another multi-scale grid (e.g. 64/128/224/448
                at patch 16): frames are brought to target_scales[-1] square, cut into tiles of
                14 patches, each tile gazed at 224, and the tile gazes merged onto the target grid
                (ascending id order per frame, -1 + S*t padding, as the reference).
            stop: "predicted" or "measured" for this call (None: the gazer's `stop`).

        Returns:
            GazeResult (B clips, T frames); `loss` holds the predicted loss after each gaze (the
            measured paint loss with the measured stop).
        """
        from ...video import as_clips

        check(not kwargs, f"unknown gaze options: {sorted(kwargs)}")
        clips = as_clips(video)
        B, T = clips.shape[:2]
        budgets, threshold, used = self._knobs(gazing_ratio, task_loss_requirement, T, stop)
        start = time.perf_counter()
        retarget = self._retarget_grid(target_scales, target_patch_size)
        measured = used["stop"] == "measured" and threshold is not None
        check(
            not (measured and retarget is not None),
            "the measured stop rebuilds frames on the gazer's own grid: it does not retarget (use stop='predicted')",
        )
        if retarget is None:
            result = self._gaze_clips(clips, budgets, threshold, stop=used["stop"])
        else:
            result = self._gaze_retargeted(clips, retarget, budgets, threshold)
        result.seconds["gaze"] = time.perf_counter() - start
        result.gazer = self.name
        result.loss_kind = "measured" if measured else self.loss_kind
        result.settings.update(used, source=self.source, clip_len=self.clip_len, threshold_unit=self.threshold_unit)
        if retarget is not None:
            result.settings.update(target_scales=list(retarget.scales), target_patch_size=retarget.patch_size)
        return result

    def _gaze_clips(
        self, clips: np.ndarray, budgets: list[int], threshold: float | None, stop: str = "predicted", **kwargs
    ) -> GazeResult:
        """uint8 clips (B, T, H, W, 3) on the model's own grid -> GazeResult.

        With `stop="measured"` (and a threshold) frames stop on their measured paint loss; the
        cost goes to `settings["paints"]` and `seconds["measure"]`.
        """
        meter = None
        if stop == "measured" and threshold is not None:
            meter = MeasuredStop(self.grid, clips.shape[0], threshold, self.device, self.cfg.eos_id)
        result = _to_result(
            self._gaze_tensor(self.preprocess(clips), budgets, threshold, measure=meter, clips=clips), self.grid
        )
        if meter is not None:
            result.loss_kind = "measured"
            result.settings["paints"] = meter.paints
            result.seconds["measure"] = meter.seconds
        return result

    def _gaze_tensor(
        self,
        x: torch.Tensor,
        budgets: list[int],
        threshold: float | None,
        pick: Callable | None = None,
        measure: MeasuredStop | None = None,
        clips: np.ndarray | None = None,
    ) -> _Clips:
        """Normalised clips (B, T, 3, H, W) -> per-frame gazes; each `clip_len` piece encoded at once.

        `pick` replaces the greedy choice of each decode step (`GazeSession.pick`); `measure` (with
        the uint8 `clips`) stops frames on their measured paint loss instead of the head's.
        """
        B, T = x.shape[:2]
        K = self.cfg.num_multi_token_pred
        step = self.clip_len or T
        frames = []
        # A captured graph must record autocast's weight casts, not point at its cached copies.
        with torch.inference_mode(), autocast(self.device, self.bf16, cache=not self.static):
            for first in range(0, T, step):  # fresh caches for every piece
                piece = budgets[first : first + step]
                capacity = sum(self.cfg.tokens_per_frame + b + 2 * K for b in piece)
                session = GazeSession(
                    self.net,
                    B,
                    capacity=capacity,
                    predict_loss=self.predict_loss,
                    on_phase=self.on_phase,
                    pick=pick,
                    static=self.static,
                )
                try:
                    feats = session.encode(x[:, first : first + step])
                    for t, budget in enumerate(piece):
                        frames.append(
                            session.frame(feats[:, t], budget, threshold)
                            if measure is None
                            else measure.frame(session, feats[:, t], budget, clips[:, first + t])
                        )
                finally:
                    session.close()
        return _Clips(frames, sum(f.steps for f in frames))

    def stream(
        self,
        frames: Any,
        gazing_ratio: float | Sequence[float] | None = None,
        task_loss_requirement: float | None = None,
        stop: str | None = None,
        **kwargs,
    ) -> Iterator[GazeResult]:
        """Gaze frame by frame with the conv and KV caches; yields one `GazeResult` per frame.

        Args:
            frames: a clip or batch of clips (as `gaze`), or any iterable of uint8 frames
                (H,W,3) or (B,H,W,3) (e.g. a live source; then `gazing_ratio` must be a float).
            gazing_ratio, task_loss_requirement, stop: as in `gaze` (the measured stop's paint canvas
                carries over from frame to frame, as the reconstructor's does).

        Yields:
            GazeResult with T = 1 and frame-local ids; `concat_frames` of them equals `gaze`.
        """
        check(not kwargs, f"stream does not take {sorted(kwargs)} (retargeting needs the whole clip: use gaze)")
        source, total = frame_source(frames)
        check(
            total is not None or gazing_ratio is None or np.isscalar(gazing_ratio),
            "a live stream of frames takes a single float gazing_ratio, not a per-frame list",
        )
        budgets, threshold, used = self._knobs(gazing_ratio, task_loss_requirement, total or 1, stop)
        session = meter = None
        for t, frame in enumerate(source):
            start = time.perf_counter()
            x = self.preprocess(frame)[:, None]  # (B, 1, 3, h, w)
            budget = budgets[t] if total else budgets[0]
            with torch.inference_mode(), autocast(self.device, self.bf16):
                if session is None or (self.clip_len and t % self.clip_len == 0):
                    session = GazeSession(self.net, x.shape[0], predict_loss=self.predict_loss, on_phase=self.on_phase)
                check(x.shape[0] == session.batch, "every streamed frame must have the same batch size")
                if used["stop"] == "measured" and threshold is not None:
                    meter = meter or MeasuredStop(self.grid, x.shape[0], threshold, self.device, self.cfg.eos_id)
                    spent = meter.seconds
                    out = meter.frame(session, session.encode(x)[:, 0], budget, np.asarray(frame))
                else:
                    out = session.frame(session.encode(x)[:, 0], budget, threshold)
            result = _to_result(_Clips([out], out.steps), self.grid)
            result.seconds["gaze"] = time.perf_counter() - start
            result.gazer, result.loss_kind = self.name, self.loss_kind
            if meter is not None:
                result.loss_kind = "measured"
                result.seconds["measure"] = meter.seconds - spent
                result.settings["paints"] = int((out.ids != self.cfg.eos_id).sum())
            result.settings.update(
                used, source=self.source, frame=t, clip_len=self.clip_len, threshold_unit=self.threshold_unit
            )
            yield result

    # ---- retargeting (the reference's input_res_adapt) -----------------------------------------
    def _retarget_grid(self, target_scales, target_patch_size) -> MultiScaleGrid | None:
        """The target grid, or None when the knobs are absent or equal the model's own grid."""
        if target_scales is None and target_patch_size is None:
            return None
        check(
            target_scales is not None and target_patch_size is not None,
            "give target_scales and target_patch_size together",
        )
        scales = sorted(int(s) for s in target_scales)
        patch = int(target_patch_size)
        check(
            len(scales) == len(self.grid.scales),
            f"target_scales needs {len(self.grid.scales)} scales like the model's {list(self.grid.scales)}, got {scales}",
        )
        grid = MultiScaleGrid(tuple(scales), patch)
        if tuple(scales) == self.grid.scales and list(grid.counts) == list(self.cfg.slots_per_scale):
            return None
        return grid

    def _gaze_retargeted(
        self, clips: np.ndarray, target: MultiScaleGrid, budgets: list[int], threshold: float | None
    ) -> GazeResult:
        """Tile, gaze every tile on the model grid, and merge the tile gazes onto the target grid."""
        B, T, H, W = clips.shape[:4]
        side = target.canvas
        x = self.preprocess(clips, size=(side, side))  # squash to the target canvas (identity if already square)
        tile_px = self.grid.sides[-1] * target.patch_size
        layout = tile_layout(side, side, tile_px)
        n = layout.rows  # tiles per side
        # Zeros in normalised space pad right and bottom; tiles come out (N, B, T, 3, t, t), clip-major below.
        tiles = layout.cut(x, fill=0.0, channels_last=False).transpose(0, 1).reshape(B * n * n, T, 3, tile_px, tile_px)
        raw = self._gaze_tensor(tiles, budgets, threshold)
        return _merge_tiles(raw, self.grid, target, B, n)

    # ---- training ---------------------------------------------------------------------------
    def sample(
        self, video: Any, budgets: Sequence[int], pick: Callable, task_loss_requirement: float | None = None
    ) -> GazeResult:
        """Gaze clips with another choice rule per decode step (e.g. `playground.training.Sampler`).

        Args:
            video: uint8 (T,H,W,3) or (B,T,H,W,3) clips on the model's own grid.
            budgets: (T,) most gazes of each frame (whole numbers, 1..S).
            pick: the step rule, `GazeSession.pick`.
            task_loss_requirement: as in `gaze` (None: spend each frame's budget).

        Returns:
            GazeResult (B clips, T frames) with the predicted loss after each gaze.
        """
        from ...video import as_clips

        clips = as_clips(video)
        budgets = [int(b) for b in budgets]
        check(len(budgets) == clips.shape[1], f"{len(budgets)} budgets for {clips.shape[1]} frames")
        check(all(1 <= b <= self.cfg.num_slots for b in budgets), f"budgets must lie in 1..{self.cfg.num_slots}")
        result = _to_result(
            self._gaze_tensor(self.preprocess(clips), budgets, check_threshold(task_loss_requirement), pick), self.grid
        )
        result.gazer, result.loss_kind = self.name, self.loss_kind
        return result

    def gradients(self) -> dict[str, torch.Tensor]:
        """{checkpoint key (as in model.safetensors): gradient} of every parameter, after `backward()`.

        Parameters that got no gradient are left out.
        """
        return {k: p.grad for k, p in self.net.named_parameters() if p.grad is not None}

    def weights_changed(self) -> None:
        """Call after changing the weights in place (an optimiser step): inference re-reads them."""
        self.net.fuse()


# ---- building results -----------------------------------------------------------------------


def _check_stop(stop: str) -> str:
    check(stop in STOPS, f"stop must be one of {', '.join(STOPS)}, got {stop!r}")
    return stop


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
    result = GazeResult(
        torch.cat(pos, 1),
        torch.cat(pad, 1),
        torch.tensor(counts),
        grid=grid,
        loss=torch.cat(loss, 1),
        frame_loss=frame_loss,
        loss_kind="predicted",
    )
    result.settings["decoder_calls"] = raw.steps
    result.settings["decoder_steps"] = [[int(f.ids.shape[1]), int(f.steps)] for f in raw.frames]  # mllm.gazer_flops
    return result


def _merge_tiles(raw: _Clips, tile_grid: MultiScaleGrid, target: MultiScaleGrid, batch: int, n: int) -> GazeResult:
    """Tile gazes (B*n*n clips on the model grid) -> B clips on the target grid (reference's recovery)."""
    tiles = _to_result(raw, tile_grid)
    T = tiles.num_frames
    mask = tiles.slot_mask()  # (B*n*n, T, 265)
    loss_map = torch.full(mask.shape, float("nan"))
    _scatter_loss(tiles, loss_map)
    per_scale_mask, per_scale_loss = [], []
    for m, l, side, target_side in zip(
        tile_grid.split_scales(mask), tile_grid.split_scales(loss_map), tile_grid.sides, target.sides
    ):
        for values, out in ((m, per_scale_mask), (l, per_scale_loss)):
            v = (
                values.reshape(batch, n, n, T, side, side)
                .permute(0, 3, 1, 4, 2, 5)
                .reshape(batch, T, n * side, n * side)
            )
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
            ids[b, : len(kept)] = kept
            vals[b, : len(kept)] = full_loss[b, t, kept]
        pos.append(ids + S * t)
        pad.append(ids < 0)
        loss.append(vals)
    frame_loss = tiles.frame_loss.reshape(batch, n * n, T).nanmean(1)
    result = GazeResult(
        torch.cat(pos, 1),
        torch.cat(pad, 1),
        counts.to(torch.int64),
        grid=target,
        loss=torch.cat(loss, 1),
        frame_loss=frame_loss,
        loss_kind="predicted",
    )
    result.settings.update(tiles=n * n, decoder_calls=raw.steps, decoder_steps=tiles.settings["decoder_steps"])
    return result


def _scatter_loss(result: GazeResult, out: torch.Tensor) -> None:
    """Write each real gaze's loss into (B, T, S) at its slot."""
    S = result.grid.num_slots
    frame = result.frame_of_entry
    real = ~result.if_padded_gazing
    b_idx, n_idx = torch.nonzero(real, as_tuple=True)
    out[b_idx, frame[n_idx], result.gazing_pos[b_idx, n_idx] % S] = result.loss[b_idx, n_idx]
