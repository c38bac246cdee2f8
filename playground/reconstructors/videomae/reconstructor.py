"""The VideoMAE_AutoGaze reconstructor: rebuild gazed videos and measure the reference's loss.

`VideoMAEReconstructor.reconstruct(video, gaze)` gives the rebuilt frames and the per-frame loss
`1*L1 + 0.3*DINOv2 + 0.3*SigLIP2` that AutoGaze's error threshold refers to (AUTOGAZE_SPEC.md
section 2). Videos of any length are rebuilt in 16-frame clips (the length the model was trained
on), with the gaze split accordingly; frames after the last one asked for are skipped because
attention is block-causal in time. Frames are (B, T, H, W, 3) uint8 in, (B, T, 3, C, C) normalised
inside, with C the model's canvas.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Sequence

import numpy as np
import torch

from ... import metrics
from ...device import autocast
from ...errors import PlaygroundError, check
from ...gaze import GazeResult
from ...geometry import grid_for
from ...knobs import CLIP_LEN
from ...models.videomae_model import VideoMAEAutoGaze, VideoMAEConfig
from ...pixels import denormalize, normalize
from ..base import Reconstruction, Reconstructor

log = logging.getLogger(__name__)

TERM_NAMES = {"l1": "l1", "dinov2_reg": "dinov2", "siglip2": "siglip2"}  # model name -> Reconstruction.terms name
PREPROCESS_MODES = ("crop", "squash")
REBUILD_MODES = ("separate", "together")


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
                out[b, t] = np.asarray(img)[top : top + size, left : left + size]
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

    def __init__(
        self,
        model: VideoMAEAutoGaze,
        device=None,
        *,
        name: str = "videomae",
        bf16: bool = True,
        clip_len: int = CLIP_LEN,
        preprocess: str = "crop",
        loss_terms: Sequence[str] | None = None,
        rebuild: str = "together",
    ):
        cfg = model.config.mae
        super().__init__(grid_for(cfg.scale_list, cfg.patch_size), device)
        check(
            isinstance(clip_len, int) and 0 < clip_len <= cfg.max_num_frames,
            f"clip_len must be in [1, {cfg.max_num_frames}], got {clip_len!r}",
        )
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
    def random(
        cls, config: VideoMAEConfig | dict | str | None = None, seed: int = 0, device=None, **kwargs
    ) -> "VideoMAEReconstructor":
        """Random weights (for timings and tests): the published architecture unless `config` says otherwise."""
        from .loading import build_model, resolve_config  # loading imports this module: imported when called

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
            raise PlaygroundError(
                f"gaze entry {n} of clip {b} (id {int(pos[b, n])}) is not a slot of its frame "
                f"{int(frame[b, n])}: the gaze does not use {self.grid.describe()}"
            )
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
    def rebuild_clip(
        self,
        pixels: torch.Tensor,
        gazing_pos: torch.Tensor,
        padded: torch.Tensor,
        counts: Sequence[int],
        frames: Sequence[int],
    ) -> dict[str, Any]:
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
            logits = model.reconstruct_logits(
                model.embed(pixels), gazing_pos, padded, counts, frames, together=self.rebuild == "together"
            ).float()
            pred = model.unpatchify(logits)
            target = pixels[:, list(frames)]
            flat = model.loss_terms(pred.flatten(0, 1), target.flatten(0, 1), terms=self.loss_terms)
        terms = {k: v.float().reshape(B, R) for k, v in flat.items()}
        return {"logits": logits, "pred": pred, "target": target, "terms": terms, "loss": model.weighted_loss(terms)}

    @torch.inference_mode()
    def _reconstruct(
        self, clips: np.ndarray, gaze: GazeResult, frames: list[int], prepared: Any = None
    ) -> Reconstruction:
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
                done[start + f] = (
                    out["pred"][:, i],
                    out["target"][:, i],
                    out["loss"][:, i],
                    {k: v[:, i] for k, v in out["terms"].items()},
                )
        pred = torch.stack([done[f][0] for f in frames], 1)
        target = torch.stack([done[f][1] for f in frames], 1)
        loss = torch.stack([done[f][2] for f in frames], 1)
        terms = {TERM_NAMES[k]: torch.stack([done[f][3][k] for f in frames], 1).cpu() for k in self.loss_terms}
        pred_u8, target_u8 = denormalize(pred), denormalize(target)
        seconds["reconstruct"] = time.perf_counter() - start_time
        return Reconstruction(
            frames=pred_u8.cpu(),
            normalized=pred.float().cpu(),
            frame_indices=torch.tensor(frames),
            loss=loss.float().cpu(),
            terms=terms,
            psnr=metrics.psnr(pred_u8, target_u8).cpu(),
            ssim=metrics.ssim(pred_u8, target_u8).cpu(),
            reconstructor=self.name,
            seconds=seconds,
        )


__all__ = ["VideoMAEReconstructor", "task_frames", "TERM_NAMES", "CLIP_LEN", "PREPROCESS_MODES", "REBUILD_MODES"]
