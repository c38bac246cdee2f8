"""`GazedMLLM`: one video MLLM that answers on all tokens (stock) or on the gazed patches only.

    mllm = load_mllm("HuggingFaceTB/SmolVLM2-256M-Video-Instruct")
    gaze = mllm.gaze(frames, "greedy", gazing_ratio=0.1)      # a GazeResult on the model's grid
    full = mllm.answer(frames, "What happens?")               # stock path, every patch
    gazed = mllm.answer(frames, "What happens?", gaze=gaze)   # gazed path, same frames

Both paths share the prompt builder, the splice into `inputs_embeds` and `generate`; they differ
only in how the vision tokens are made (see `families.py`, `gazed_vit.py`, `connector.py`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import PlaygroundError, check
from ..gaze import GazeResult, as_gaze_result
from ..gazers import TRAINING_FREE_GAZERS, load_gazer
from ..geometry import MultiScaleGrid
from ..video import as_clips
from .answer import Answer, check_request
from .families import Family, family_for
from .flops import StageCounter, stage_flops
from .gazed_vit import ATTENTION_MODES, GazedTokens, gazed_tokens
from .gazer_flops import gazer_flops as count_gazer
from .pruning import check_method, select_tokens

DEFAULT_MAX_NEW_TOKENS = 32


@dataclass
class VisionOutput:
    """The vision side of one answer: encoder features and the LLM tokens made from them."""

    features: torch.Tensor  # (N, d) gazed or (T, n, d) stock encoder features
    tokens: torch.Tensor  # (M, D) LLM vision tokens in prompt order
    per_frame: list[int]  # (T,) LLM vision tokens of each frame
    encoder_tokens: list[int]  # (T,) patches through the encoder per frame
    embedded_patches: int  # patches through the patch embedding
    sequences: list[int]  # attention sequence lengths in the encoder
    stages: dict[str, StageCounter]  # preprocess / vision_encoder / connector (and prune, post-ViT pruned)
    layout: Any = None  # the tokens as the family lays them out (`Family.gazed_layout`, `pruned_layout`); None = stock


@dataclass
class LLMRun:
    """The LLM side of one answer."""

    new_ids: list[int]  # generated token ids
    stages: dict[str, StageCounter]  # 'llm_prefill' and 'llm_decode'


class _PrefillClock:
    """A logits processor that marks the end of the prefill (its first call) without touching the scores."""

    def __init__(self, counter: StageCounter):
        self.counter = counter
        self.calls = 0
        self.prefill_seconds: float | None = None
        self.prefill_cpu_seconds: float | None = None
        self.prefill_flops: int | None = None

    def split(self) -> dict[str, "StageCounter"]:
        """The finished counter split at the first token into 'llm_prefill' and 'llm_decode' stages."""
        whole = self.counter
        prefill, decode = StageCounter(whole.device, False), StageCounter(whole.device, False)
        prefill.seconds = whole.seconds if self.prefill_seconds is None else self.prefill_seconds
        prefill.cpu_seconds = whole.cpu_seconds if self.prefill_cpu_seconds is None else self.prefill_cpu_seconds
        decode.seconds, decode.cpu_seconds = whole.seconds - prefill.seconds, whole.cpu_seconds - prefill.cpu_seconds
        if whole.flops is not None:
            prefill.flops = whole.flops if self.prefill_flops is None else self.prefill_flops
            decode.flops = whole.flops - prefill.flops
        return {"llm_prefill": prefill, "llm_decode": decode}

    def __call__(self, input_ids, scores):
        if self.calls == 0:
            self.prefill_cpu_seconds = self.counter.cpu_elapsed()
            self.prefill_seconds = self.counter.elapsed()
            self.prefill_flops = self.counter.snapshot()
        self.calls += 1
        return scores


class GazedMLLM:
    """A loaded video MLLM with a stock and a gazed answer path (build it with `load_mllm`)."""

    def __init__(self, family: Family, name: str):
        self.family = family
        self.name = name
        self.device = family.device
        self.note: str | None = None  # a caveat to show with its answers (e.g. random weights)
        self._gazers: dict[tuple, Any] = {}

    @classmethod
    def from_model(
        cls, model, tokenizer, processing, chat_template: str | None = None, name: str = "in-memory"
    ) -> "GazedMLLM":
        """Wrap an already built model (e.g. random weights for timing) without saving it.

        Args:
            model: a model of a registered family (`families.FAMILIES`, by its config's model_type).
            tokenizer: its tokenizer (placeholder tokens must match the config's ids).
            processing: the frame preprocessing (`families.FrameProcessing`).
            chat_template: the chat template (LLaVA-OV; SmolVLM uses its processor's video template).
        """
        family = family_for(model.config.model_type)(model.eval(), tokenizer, processing, chat_template)
        return cls(family, name)

    @property
    def model(self):
        return self.family.model

    @property
    def tokenizer(self):
        return self.family.tokenizer

    @property
    def grid(self) -> MultiScaleGrid:
        """The multi-scale gaze grid aligned with the model's patches (k x (32,64,112,224) at patch 16)."""
        return self.family.gaze_grid()

    @property
    def single_scale_grid(self) -> MultiScaleGrid:
        """The finest scale of `grid` alone (the single-scale ablation)."""
        return self.family.gaze_grid(single_scale=True)

    def __repr__(self) -> str:
        return (
            f"GazedMLLM({self.name!r}, family={self.family.kind}, grid={self.grid.describe()!r}, device={self.device})"
        )

    # ---- gazing --------------------------------------------------------------------------------
    def gazer(self, gazer: Any = "greedy", grid: MultiScaleGrid | None = None):
        """A gazer by name or path, or passed through. Cached; training-free ones are built on `grid`
        (default the model's), others (AutoGaze) keep their own grid and retarget when gazing."""
        if not isinstance(gazer, str):
            return gazer
        name = gazer.strip()
        free = name.lower() in TRAINING_FREE_GAZERS
        key = (name, grid or self.grid) if free else (name, None)
        if key not in self._gazers:
            kwargs = {"grid": grid or self.grid} if free else {}
            try:
                self._gazers[key] = load_gazer(name, device=self.device, **kwargs)
            except PlaygroundError as exc:  # say which model failed: the gazer, not this MLLM
                message = str(exc)
                raise PlaygroundError(
                    message if message.startswith("cannot load") else f"cannot load gazer {name!r}: {message}"
                ) from exc
        return self._gazers[key]

    def gaze(
        self,
        video: Any,
        gazer: Any = "greedy",
        gazing_ratio=None,
        task_loss_requirement=None,
        single_scale: bool = False,
        num_frames: int | None = 8,
    ) -> GazeResult:
        """Gaze a clip on the model's grid.

        Training-free gazers gaze on that grid directly; a gazer on another grid (AutoGaze, native
        224 px at patch 16) is asked to retarget with `target_scales` / `target_patch_size`.

        Args:
            video: uint8 (T,H,W,3) array/tensor, a .npy or a video file (`num_frames` sampled).
            gazer: a gazer name (greedy, framediff, random, full), an AutoGaze checkpoint, or a Gazer.
            gazing_ratio: cap on slots per frame, as a fraction of the gazer's slots per frame (or tile).
            task_loss_requirement: the error threshold.
            single_scale: gaze on the finest scale only (the single-scale ablation).

        Returns:
            GazeResult with one clip of T frames on `self.grid` (or `self.single_scale_grid`).
        """
        frames = self._frames(video, num_frames)
        grid = self.single_scale_grid if single_scale else self.grid
        gz = self.gazer(gazer, grid)
        if gz.grid == grid:
            return gz.gaze(frames, gazing_ratio=gazing_ratio, task_loss_requirement=task_loss_requirement)
        return gz.gaze(
            frames,
            gazing_ratio=gazing_ratio,
            task_loss_requirement=task_loss_requirement,
            target_scales=list(grid.scales),
            target_patch_size=grid.patch_size,
        )

    # ---- answering -----------------------------------------------------------------------------
    @torch.inference_mode()
    def answer(
        self,
        video: Any,
        question: str,
        gaze: GazeResult | dict | None = None,
        attention: str = "block_causal",
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        gazer: Any = None,
        gazing_ratio=None,
        task_loss_requirement=None,
        single_scale: bool = False,
        fps: float | None = None,
        num_frames: int | None = 8,
        count_flops: bool = False,
        count_gazer_flops: bool = True,
        pruning: str | None = None,
        budget: int | None = None,
    ) -> Answer:
        """Answer a question about a clip, on every patch (gaze=None, gazer=None), on the gazed ones, or on every
        patch with the LLM's vision tokens pruned after the ViT (`pruning`, at `budget` tokens).

        Args:
            video: uint8 (T,H,W,3) array/tensor, a .npy or a video file (`num_frames` sampled uniformly).
            question: the question text.
            gaze: a GazeResult (or the official dict) on `self.grid` or `self.single_scale_grid`.
            attention: gazed encoder attention, one of 'block_causal', 'frame_independent', 'bidirectional'.
            max_new_tokens: generation length cap (greedy decoding).
            gazer: instead of `gaze`, a gazer (name/path/Gazer) to run here, timed as the 'gazer' stage.
            gazing_ratio, task_loss_requirement, single_scale: the gazer's knobs (with `gazer`).
            fps: frame rate for the prompt's timestamps (default: the model's video sampling rate).
            num_frames: frames to sample when `video` is a file.
            count_flops: also measure FLOPs per stage with FlopCounterMode (slows the call a little).
            count_gazer_flops: with `gazer`, count its FLOPs into the 'gazer' stage and the totals
                (`gazer_flops.py`: AutoGaze analytic, free; a training-free gazer's element operations
                measured in a second, untimed pass, about 2-3x its time). False leaves them None.
            pruning: post-ViT pruning, one of `pruning.PRUNING_METHODS` ('evs', 'drop-uniform', 'drop-random'):
                the stock encoder and connector, then `budget` LLM vision tokens kept (no gaze, no gazer).
            budget: with `pruning`, the LLM vision tokens to keep (as `Answer.llm_vision_tokens` counts them:
                eval and `ask` pass the gazed answer's, so both feed the LLM as many).

        Returns:
            Answer with the text, token counts, FLOPs and seconds per stage.
        """
        check_request(question, max_new_tokens, self.tokenizer)
        check(gaze is None or gazer is None, "pass either a gaze or a gazer, not both")
        if pruning is not None:
            check_method(pruning)
            check(gaze is None and gazer is None, "post-ViT pruning runs on every patch: pass no gaze or gazer")
            check(
                isinstance(budget, int) and budget >= 1,
                f"post-ViT pruning needs a budget of LLM tokens, got {budget!r}",
            )
        check(attention in ATTENTION_MODES, f"attention must be one of {ATTENTION_MODES}, got {attention!r}")
        frames = self._frames(video, num_frames)
        fps = float(fps or self.family.processing.fps)
        check(fps > 0, f"fps must be positive, got {fps}")
        started, cpu_started = time.perf_counter(), time.process_time()
        gazer_stage, gazer_cost = None, None
        if gazer is not None:
            gazer_stage = StageCounter(self.device, False)  # FLOPs: gazer_flops' count, not FlopCounterMode's
            with gazer_stage:
                gaze = self.gaze(frames, gazer, gazing_ratio, task_loss_requirement, single_scale)
        if gaze is None:
            vision = self.stock_vision(frames, count_flops)
            if pruning is not None:
                vision = self.pruned_vision(vision, pruning, budget, frames.shape[0])
        else:
            gaze = as_gaze_result(gaze, self.grid)
            vision = self.gazed_vision(frames, self.check_gaze(gaze, frames.shape[0]), attention, count_flops)
        ids, llm_inputs = self.family.llm_inputs(question, vision, fps, int(frames.shape[0]))
        llm = self._generate(llm_inputs, max_new_tokens, count_flops)
        stages = {**vision.stages, **llm.stages, "gazer": gazer_stage}
        seconds = {k: None if st is None else st.seconds for k, st in stages.items()}
        cpu = {k: None if st is None else st.cpu_seconds for k, st in stages.items()}
        if gazer_stage is None and gaze is not None:
            seconds["gazer"] = gaze.seconds.get("gaze")  # the gaze's own recorded time
        seconds["total"], cpu["total"] = time.perf_counter() - started, time.process_time() - cpu_started
        if gazer is not None and count_gazer_flops:  # after the clock: a training-free gazer is counted in a rerun
            gazer_cost = self.gazer_flops(frames, gazer, gaze, gazing_ratio, task_loss_requirement, single_scale)
        flops = self.analytic_flops(vision, ids.shape[1], len(llm.new_ids), gazed=gaze is not None)
        measured = None
        if count_flops:
            measured = {k: None if st is None else st.flops for k, st in stages.items() if k != "preprocess"}
            measured["vision_attention"] = vision.stages["vision_encoder"].attention_flops
        settings = {
            "frames": int(frames.shape[0]),
            "fps": fps,
            "max_new_tokens": max_new_tokens,
            "token_merge": self.family.merge_rule(self.family.shape),
        }
        if gazer_cost is not None:  # one count of the gazer in both dicts, and in both totals
            flops["gazer"], settings["gazer_flops"] = gazer_cost
            if measured is not None:
                measured["gazer"] = gazer_cost[0]
        flops["total"] = _total(flops)
        if measured is not None:
            measured["total"] = _total(measured)
        if pruning is not None:
            settings.update(pruning=pruning, budget=budget)
        if gaze is not None:
            settings.update(
                gazer=gaze.gazer,
                grid=gaze.grid.describe(),
                kept_fraction=round(gaze.kept_fraction, 6),
                gaze_settings=dict(gaze.settings),
            )
        return Answer(
            text=self.tokenizer.decode(llm.new_ids, skip_special_tokens=True).strip(),
            path="gazed" if gaze is not None else "full" if pruning is None else "pruned",
            model=self.name,
            attention="stock" if gaze is None else attention,
            vision_tokens=int(sum(vision.encoder_tokens)),
            vision_tokens_per_frame=vision.encoder_tokens,
            llm_vision_tokens=int(vision.tokens.shape[0]),
            llm_vision_tokens_per_frame=vision.per_frame,
            llm_prompt_tokens=int(ids.shape[1]),
            new_tokens=len(llm.new_ids),
            flops=flops,
            seconds=seconds,
            cpu_seconds=cpu,
            measured_flops=measured,
            settings=settings,
        )

    def gazer_flops(
        self,
        frames: np.ndarray,
        gazer: Any,
        gaze: GazeResult,
        gazing_ratio=None,
        task_loss_requirement=None,
        single_scale: bool = False,
    ) -> tuple[int | None, str]:
        """(FLOPs, how counted) of the gazer that made `gaze` on these frames (see `gazer_flops.py`):
        AutoGaze's from its config and the gaze's decoding record; a training-free gazer's measured by
        gazing again under the element-operation counter (untimed; the same gaze, being deterministic)."""
        model = self.gazer(gazer, self.single_scale_grid if single_scale else self.grid)
        return count_gazer(
            model, gaze, lambda: self.gaze(frames, model, gazing_ratio, task_loss_requirement, single_scale)
        )

    def check_gaze(self, gaze: GazeResult, num_frames: int) -> GazedTokens:
        """Validate a gaze against the model and the clip; return its gazed tokens (clip 0)."""
        allowed = (self.grid, self.single_scale_grid)
        check(
            gaze.grid.patch_size == self.family.patch_size and gaze.grid in allowed,
            f"the gaze is on {gaze.grid.describe()} but {self.name} needs {self.grid.describe()} "
            f"(or its finest scale alone); make it with mllm.gaze(...) or answer(gazer=...)",
        )
        check(gaze.batch_size == 1, f"answer takes one clip; the gaze holds {gaze.batch_size}")
        check(gaze.num_frames == num_frames, f"the gaze covers {gaze.num_frames} frames but the video has {num_frames}")
        return gazed_tokens(gaze)

    def stock_vision(self, frames: np.ndarray, count_flops: bool = False) -> VisionOutput:
        """The stock path: every patch of every frame through the model's own vision modules."""
        fam = self.family
        stages = {k: StageCounter(self.device, count_flops) for k in ("preprocess", "vision_encoder", "connector")}
        with stages["preprocess"]:
            pixels = fam.pixels(frames, fam.stock_side)
        with stages["vision_encoder"]:
            features = fam.stock_features(pixels)
        with stages["connector"]:
            tokens, per_frame = fam.stock_connector(features)
        T, n = features.shape[:2]
        return VisionOutput(features, tokens, per_frame, [n] * T, T * n, [n] * T, stages)

    def gazed_vision(
        self, frames: np.ndarray, tokens: GazedTokens, attention: str = "block_causal", count_flops: bool = False
    ) -> VisionOutput:
        """The gazed path: the family's layout of the gazed patches, encoder (per-scale embeddings, gather,
        masked layers) and connector on those patches only."""
        fam = self.family
        stages = {k: StageCounter(self.device, count_flops) for k in ("preprocess", "vision_encoder", "connector")}
        layout = fam.gazed_layout(tokens)
        with stages["preprocess"]:
            pixels = fam.scale_pixels(frames, tokens.grid)
        with stages["vision_encoder"]:
            features = fam.gazed_features(pixels, layout, attention)
        with stages["connector"]:
            out, per_frame = fam.gazed_connector(features, layout)
        # one sequence per frame (frame_independent), else one masked sequence of N: SDPA computes all
        # N x N scores whatever the mask
        embedded, sequences = fam.gazed_sequences(fam.shape, tokens, attention)
        return VisionOutput(
            features, out, per_frame, fam.gazed_encoder_tokens(fam.shape, tokens), embedded, sequences, stages, layout
        )

    def pruned_vision(self, vision: VisionOutput, method: str, budget: int, num_frames: int) -> VisionOutput:
        """The stock vision output with `budget` LLM vision tokens kept (`pruning.py`), timed as the 'prune'
        stage; the encoder's and connector's counts and stages stay the stock ones."""
        fam = self.family
        stage = StageCounter(self.device, False)  # no matrix products: 0 FLOPs by flops.py's convention
        with stage:
            M = vision.tokens.shape[0] - fam.trailing_tokens
            frame_tokens, trailing = vision.tokens[:M], vision.tokens[M:]
            keep = select_tokens(
                method, fam.similarity_tokens(frame_tokens), len(vision.per_frame), budget - fam.trailing_tokens
            )
            tokens = torch.cat([frame_tokens[keep], trailing])
            per_frame = keep.view(len(vision.per_frame), -1).sum(1).tolist()
        return VisionOutput(
            vision.features,
            tokens,
            per_frame,
            vision.encoder_tokens,
            vision.embedded_patches,
            vision.sequences,
            {**vision.stages, "prune": stage},
            fam.pruned_layout(keep.cpu(), num_frames),
        )

    def splice(self, ids: torch.Tensor, vision_tokens: torch.Tensor) -> torch.Tensor:
        """(1, L) prompt ids + (M, D) vision tokens -> (1, L, D) inputs_embeds (`Family.splice`)."""
        return self.family.splice(ids, vision_tokens)

    def _generate(self, inputs: dict, max_new_tokens: int, count_flops: bool) -> "LLMRun":
        """Greedy `generate(inputs_embeds=..., **inputs)`, timed and counted, split into prefill and decode.

        `inputs` come from `Family.llm_inputs`: `inputs_embeds` (1, L, D) and what else the model takes.
        """
        from transformers import LogitsProcessorList  # lazy: transformers is slow to import

        counter = StageCounter(self.device, count_flops)
        clock = _PrefillClock(counter)
        embeds = inputs["inputs_embeds"]
        mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device)
        gen = self.model.generation_config
        pad = gen.pad_token_id if gen.pad_token_id is not None else gen.eos_token_id
        with counter:
            out = self.model.generate(
                **inputs,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                logits_processor=LogitsProcessorList([clock]),
                pad_token_id=pad[0] if isinstance(pad, list) else pad,
            )
        return LLMRun(out[0].tolist(), clock.split())  # with inputs_embeds only, generate returns new tokens

    # ---- FLOPs ---------------------------------------------------------------------------------
    def analytic_flops(self, vision: VisionOutput, prompt_tokens: int, new_tokens: int, gazed: bool) -> dict:
        """FLOPs per stage from the config and this call's token counts (see `flops.py` for the rules)."""
        return stage_flops(
            self.family.shape, gazed, vision.embedded_patches, vision.sequences, prompt_tokens, new_tokens
        )

    # ---- input ---------------------------------------------------------------------------------
    def _frames(self, video: Any, num_frames: int | None) -> np.ndarray:
        if isinstance(video, (str, bytes)) or hasattr(video, "__fspath__"):
            name = str(video)
            kwargs = {} if name.lower().endswith(".npy") or num_frames is None else {"num_frames": num_frames}
            clips = as_clips(video, **kwargs)
        else:
            clips = as_clips(video)
        check(clips.shape[0] == 1, f"answer takes one clip (T,H,W,3); got a batch of {clips.shape[0]}")
        return clips[0]


def _total(flops: dict[str, float | None]) -> float | None:
    """Sum of the per-stage FLOPs (vision_attention is inside vision_encoder; unknown stages skipped)."""
    return sum(v for k, v in flops.items() if k not in ("vision_attention", "total") and v is not None)
