"""`oracle`: greedy gazing that measures a reconstructor's real loss at every step (slow but exact).

For each frame it tries every slot not yet gazed, rebuilds the frame with that slot added (the
earlier frames keep the gazes already chosen), and keeps the slot whose rebuild has the lowest
loss; it stops at the error threshold or the budget. With VideoMAE_AutoGaze the loss is the
reference's `1*L1 + 0.3*DINOv2 + 0.3*SigLIP2`, so this is the best any gazer could do one step at
a time under the loss AutoGaze was trained on. It costs (budget x 265) rebuilds per frame: fine for
tiny models or a GPU, far too slow for the full model on a CPU (use `greedy`, which scores all
candidates of a step at once with `paint`'s rules).

A VideoMAE reconstructor's candidates are scored in batches (one encoder+decoder pass per batch,
the target's backbone features computed once); any other reconstructor is called once per
candidate through its public `reconstruct`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from ..device import autocast
from ..errors import check
from ..gaze import GazeResult
from ..reconstructors.base import Reconstructor
from .base import FrameByFrameGazer, FrameGaze, FrameState

Evaluator = Callable[[Sequence[Sequence[int]]], torch.Tensor]  # candidate id lists of one frame -> (K,) losses


@dataclass
class OracleState(FrameState):
    """The clips, the ids each clip's frames kept so far, and (batched VideoMAE) the pixels and one clip's tokens."""

    history: list[list[list[int]]] = field(default_factory=list)  # history[b][t]: the ids frame t of clip b kept
    pixels: torch.Tensor | None = None  # (B, T, 3, H, W) the reconstructor's input, batched scoring only
    tokens: dict[tuple[int, int], torch.Tensor] = field(default_factory=dict)  # (clip, first frame) -> its embedding


def greedy_frame(
    evaluate: Evaluator, num_slots: int, budget: int, threshold: float | None
) -> tuple[list[int], list[float], float]:
    """Greedy selection for one frame.

    Args:
        evaluate: maps K lists of local ids (all the same length) to their (K,) measured losses.
        num_slots: slots per frame.
        budget: most slots to pick.
        threshold: stop once the loss is at or below it, or when no slot lowers it (None: spend the budget).

    Returns:
        (chosen ids in order, loss after each, loss the frame ends at).
    """
    chosen: list[int] = []
    trace: list[float] = []
    current = float(evaluate([[]])[0]) if threshold is not None else None
    for _ in range(budget):
        if threshold is not None and current <= threshold:
            break
        taken = set(chosen)
        candidates = [s for s in range(num_slots) if s not in taken]
        if not candidates:
            break
        losses = evaluate([chosen + [c] for c in candidates])
        k = int(torch.argmin(losses))  # ties go to the lowest slot id
        best = float(losses[k])
        if threshold is not None and best >= current:
            break
        chosen.append(candidates[k])
        trace.append(best)
        current = best
    return chosen, trace, current


class OracleGazer(FrameByFrameGazer):
    """Greedy gazer that measures the reconstructor's loss for every candidate slot.

    Args:
        reconstructor: a `Reconstructor`, or a name/path for `load_reconstructor`
            (default: the published VideoMAE_AutoGaze).
        grid: must match the reconstructor's (default: the reconstructor's).
        device: used when `reconstructor` is loaded here.
        candidate_batch: candidates scored per VideoMAE pass (memory vs speed).
        batched: score VideoMAE candidates in batches (False: one `reconstruct` call each; same numbers).
        **load_kwargs: passed to `load_reconstructor` (e.g. `config=`).
    """

    name = "oracle"
    loss_kind = "measured"
    live = False  # each frame is rebuilt from the clip so far: stream needs the whole clip

    def __init__(
        self,
        reconstructor: Reconstructor | str = "bfshi/VideoMAE_AutoGaze",
        grid=None,
        device=None,
        candidate_batch: int = 64,
        batched: bool = True,
        **load_kwargs,
    ):
        if not isinstance(reconstructor, Reconstructor):
            from ..reconstructors import load_reconstructor

            # Each candidate is scored on its frame alone; rebuild the same way, so the trace matches `reconstruct`.
            load_kwargs.setdefault("rebuild", "separate")
            reconstructor = load_reconstructor(str(reconstructor), device=device, **load_kwargs)
        if getattr(reconstructor, "rebuild", "separate") != "separate":
            reconstructor = copy.copy(reconstructor)  # the same model, rebuilding each frame alone, as scored
            reconstructor.rebuild = "separate"
        check(
            grid is None or grid == reconstructor.grid,
            f"the oracle's grid must be the reconstructor's ({reconstructor.grid.describe()})",
        )
        check(isinstance(candidate_batch, int) and candidate_batch > 0, "candidate_batch must be a positive integer")
        super().__init__(reconstructor.grid, reconstructor.device)
        self.reconstructor = reconstructor
        self.exact_for = reconstructor.name  # its threshold is this reconstructor's measured loss
        self.candidate_batch = candidate_batch
        self.batched = batched and hasattr(reconstructor, "rebuild_clip")

    def _start(self, clips: np.ndarray) -> OracleState:
        return OracleState(
            clips,
            history=[[] for _ in range(clips.shape[0])],
            pixels=self.reconstructor.preprocess(clips) if self.batched else None,
        )

    def _step(self, state: OracleState, t: int, budget: int, threshold: float | None) -> FrameGaze:
        ids, traces, finals = [], [], []
        for b in range(state.batch):
            evaluate = self._batched_evaluator(state, b, t) if self.batched else self._generic_evaluator(state, b, t)
            chosen, trace, final = greedy_frame(evaluate, self.grid.num_slots, budget, threshold)
            state.history[b].append(chosen)
            ids.append(chosen)
            traces.append(trace)
            finals.append(final)
        return FrameGaze(ids, traces, finals)

    def _generic_evaluator(self, state: OracleState, b: int, t: int) -> Evaluator:
        """Any reconstructor: one `reconstruct` of frames 0..t per candidate, loss of frame t."""
        rec = self.reconstructor
        clip = state.clips[b : b + 1, : t + 1]
        history = [list(h) for h in state.history[b][:t]]

        def evaluate(sets: Sequence[Sequence[int]]) -> torch.Tensor:
            losses = []
            for ids in sets:
                gaze = GazeResult.from_frame_slots([history + [list(ids)]], self.grid)
                losses.append(float(rec.reconstruct(clip, gaze, frames=[t]).loss[0, 0]))
            return torch.tensor(losses)

        return evaluate

    @torch.inference_mode()
    def _batched_evaluator(self, state: OracleState, b: int, t: int) -> Evaluator:
        """VideoMAE: all candidates of a step in a few batched passes over frames [clip start, t]."""
        rec, model, S = self.reconstructor, self.reconstructor.model, self.grid.num_slots
        start = (t // rec.clip_len) * rec.clip_len  # the 16-frame clip `reconstruct` would use
        local = t - start
        key = (b, start)
        with autocast(rec.device, rec.bf16):
            if key not in state.tokens:  # one clip's tokens kept at a time
                state.tokens = {key: model.embed(state.pixels[b : b + 1, start : start + rec.clip_len])}
            tokens = state.tokens[key][:, : (local + 1) * S]
            target = state.pixels[b : b + 1, t]
            features = model.target_features(target, rec.loss_terms)
        prefix = state.history[b][start:t]
        counts = [len(h) for h in prefix]
        prefix_ids = [S * i + s for i, h in enumerate(prefix) for s in h]

        @torch.inference_mode()
        def evaluate(sets: Sequence[Sequence[int]]) -> torch.Tensor:
            out = []
            for i in range(0, len(sets), self.candidate_batch):
                batch = sets[i : i + self.candidate_batch]
                pos = torch.tensor(
                    [prefix_ids + [S * local + s for s in ids] for ids in batch], dtype=torch.long, device=rec.device
                ).reshape(len(batch), -1)
                padded = torch.zeros_like(pos, dtype=torch.bool)
                with autocast(rec.device, rec.bf16):
                    logits = model.reconstruct_logits(tokens, pos, padded, counts + [len(batch[0])], [local])
                    pred = model.unpatchify(logits.float())[:, 0]
                    terms = model.loss_terms(pred, target, rec.loss_terms, target_features=features)
                out.append(model.weighted_loss({k: v.float() for k, v in terms.items()}).cpu())
            return torch.cat(out)

        return evaluate
