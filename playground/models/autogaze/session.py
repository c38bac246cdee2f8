"""Greedy decoding one frame at a time: `GazeSession` (the state a batch of clips carries across
frames, what streaming keeps), `FrameGaze` (one frame's gazes) and `greedy_pick` (a step's choice).

The session runs the reference's decode (AUTOGAZE_SPEC.md section 3): prefill the frame's vision
tokens, then decode K gazes per step with the no-repeat / no-EOS rules and the task-loss stop,
feeding each step's tokens back with the reference's "stale" positions. The same session serves
whole clips and streaming.

Shapes: B clips, P vision tokens per frame (196), S gaze slots per frame (265), K tokens per
decode step (10), D hidden size, n gazes of a frame.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Callable, ContextManager

import numpy as np
import torch

from .cache import NEG_INF, KVCache, StaticStep
from .net import AutoGazeNet

_NO_PHASE = contextlib.nullcontext()  # reusable: nullcontext keeps no state


@dataclass
class FrameGaze:
    """The gazes of one frame for a batch (ids local to the frame)."""

    ids: np.ndarray  # (B, n) int64 local slot ids in gaze order; S (EOS) marks padding
    loss: np.ndarray  # (B, n) float32 predicted loss after each gaze (NaN for padding)
    frame_loss: np.ndarray  # (B,) float32 predicted loss after the frame's last real gaze
    steps: int  # decoder calls spent on this frame (prefill + decode steps + look-ahead)


@dataclass
class GazeSession:
    """Decoding state carried across the frames of a batch of clips (what streaming keeps).

    Args:
        net: the model (in eval mode, fused).
        batch: B, the number of clips decoded together.
        capacity: initial KV cache length (grown as needed).
        predict_loss: read the task-loss head after every gaze (one extra small decoder call per
            frame when a frame's last step fills all K heads); False skips that look-ahead.
        on_phase: a phase-timing hook: called as `on_phase(name)` for a context manager that
            wraps each phase, "encode" (the conv encoder), "frame" (a whole frame) and "prefill"
            (its prefill, inside "frame"), e.g. to time them (`benchmarks/autogaze_speed.py`).
            None (the default) wraps nothing.
        pick: how a decode step chooses its tokens from the K heads, called as
            `pick(logits, used, left, K) -> (tokens, early)` (see `greedy_pick`); the default is
            the reference's greedy choice, `playground.training.Sampler` samples instead.
        static: run the decode steps with fixed shapes over a static cache of `capacity` tokens
            (`StaticStep`, pooled on the net), captured as a CUDA graph on CUDA. Call `close`
            when done, to give the step back to the pool.
    """

    net: AutoGazeNet
    batch: int
    capacity: int = 1024
    predict_loss: bool = True
    on_phase: Callable[[str], ContextManager] | None = None
    pick: Callable[[torch.Tensor, torch.Tensor, int, int], tuple[torch.Tensor, bool]] | None = None
    static: bool = False
    cache: KVCache = field(init=False)
    step: StaticStep | None = field(init=False, default=None)
    conv_past: list[torch.Tensor] | None = field(init=False, default=None)
    next_pos: torch.Tensor = field(init=False)  # (B,) int64 position of the next real token
    pending: torch.Tensor | None = field(init=False, default=None)  # (B, m) last step's ids, not yet fed
    frames_done: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        param = self.net.gazing_model.connector.pos_embed
        self.device, self.dtype = param.device, param.dtype
        if self.static:
            self.step = self.net.take_static_step(self.batch, self.capacity, self.device, self.dtype)
            self.cache = self.step.cache
        else:
            self.cache = KVCache(self.net.cfg, self.batch, self.capacity, self.device, self.dtype)
        self.next_pos = torch.zeros(self.batch, dtype=torch.int64, device=self.device)

    def close(self) -> None:
        """Give a static step back to the net's pool (a no-op otherwise); the session is done."""
        if self.step is not None:
            self.net.give_static_step(self.step)
            self.step = None

    def _phase(self, name: str) -> ContextManager:
        return _NO_PHASE if self.on_phase is None else self.on_phase(name)

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """Normalised frames (B, T, 3, H, W) -> vision tokens (B, T, P, D), continuing the conv cache."""
        with self._phase("encode"):
            feats, self.conv_past = self.net.encode(video.to(self.device, self.dtype), self.conv_past)
        return feats

    def frame(
        self,
        feats: torch.Tensor,
        budget: int,
        requirement: float | None,
        stop: Callable[[torch.Tensor, bool], torch.Tensor] | None = None,
    ) -> FrameGaze:
        """Gaze one frame: prefill its vision tokens, then decode K gazes per step until it stops.

        Args:
            feats: (B, P, D) this frame's vision tokens (from `encode`).
            budget: n_t, the most gazes this frame may take (>= 1).
            requirement: task-loss threshold; a step whose predicted loss is at or below it ends
                the frame (the first gaze of a frame is always kept). None: spend the budget.
            stop: another stop rule in place of the task-loss head's (the measured stop), called
                once per decode step as `stop(tokens, first)` with the step's tokens (B, m) (EOS
                for clips already done) and whether they are the frame's first; it returns (B, m)
                bool, the tokens to drop (a clip with any ends the frame). `requirement` is then
                not read. None: the reference's rule.

        Returns:
            The frame's `FrameGaze`.
        """
        with self._phase("frame"):
            return self._frame(feats, budget, requirement, stop)

    def _frame(
        self,
        feats: torch.Tensor,
        budget: int,
        requirement: float | None,
        stop: Callable[[torch.Tensor, bool], torch.Tensor] | None = None,
    ) -> FrameGaze:
        # The loop stays on the device: picks, bans and the task-loss stop are tensor operations,
        # and the host reads the device only to learn whether a threshold finished every clip.
        cfg, net, B = self.net.cfg, self.net, self.batch
        K, EOS = cfg.num_multi_token_pred, cfg.eos_id
        logits, losses, stale = self._prefill(feats)
        req = None if requirement is None else torch.tensor(requirement, dtype=torch.float32, device=self.device)
        stops = stop is not None or req is not None
        used = torch.zeros(B, cfg.vocab_size, dtype=torch.bool, device=self.device)
        unfinished = torch.ones(B, 1, dtype=torch.bool, device=self.device)
        ids_steps, loss_steps = [], []
        emitted, calls = 0, 1
        while True:
            tokens, early = (self.pick or greedy_pick)(logits, used, budget - emitted, K)
            m = tokens.shape[1]
            tokens = tokens.masked_fill(~unfinished, EOS)
            if stops:
                if stop is not None:  # the measured stop (or any other rule given)
                    meet = stop(tokens, emitted == 0)
                else:
                    meet = losses[:, :m] <= req
                    if emitted == 0:
                        meet[:, 0] = False  # the first gaze of a frame is always kept
                tokens = tokens.masked_fill(meet, EOS)
                unfinished = unfinished & ~meet.any(1, keepdim=True)
            # Head i+1 at the step's source is the loss after its i-th token; the last one's comes
            # from the next call (head 0 at that token).
            step_loss = torch.full((B, m), math.nan, dtype=torch.float32, device=self.device)
            n = min(m, K - 1)
            step_loss[:, :n] = losses[:, 1 : n + 1]
            ids_steps.append(tokens)
            loss_steps.append(step_loss)
            emitted += m
            used.scatter_(1, tokens, True)
            if emitted >= budget or early or (stops and not bool(unfinished.any())):
                break
            # Feed the step back with the stale positions (the reference never advances them).
            real = tokens != EOS
            if self.step is not None:
                logits, losses = self.step(tokens, stale)
            else:
                logits, losses = self._read(net.decode(net.embed(tokens), stale, self.cache, real, [K - 1])[:, 0])
            self.next_pos += real.sum(1)
            step_loss[:, K - 1] = losses[:, 0]  # head 0 at a token = the loss after it
            calls += 1
        self.pending = tokens
        ids = torch.cat(ids_steps, 1)
        loss = torch.cat(loss_steps, 1)
        if self.predict_loss and m == K and bool((tokens[:, K - 1] != EOS).any()):
            loss[:, -1] = self._look_ahead()
            calls += 1
        ids, loss = ids.cpu().numpy(), loss.cpu().numpy()  # one read of the device per frame
        loss[ids == EOS] = np.nan
        self.frames_done += 1
        return FrameGaze(ids.astype(np.int64), loss, last_real(loss, ids != EOS), calls)

    # ---- pieces of `frame` ------------------------------------------------------------------
    def _pending_inputs(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if self.pending is None:
            return None, None
        return self.net.embed(self.pending), self.pending != self.net.cfg.eos_id

    def _prefill(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Feed the previous frame's last step plus this frame's tokens.

        Returns the last token's logits and losses, and the rotary (cos, sin) of the stale decode
        positions: those of the frame's last K tokens, reused by every decode step of the frame.
        """
        with self._phase("prefill"):
            return self._prefill_tokens(feats)

    def _prefill_tokens(
        self, feats: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        x, real = self._pending_inputs()
        B, P = feats.shape[:2]
        ones = torch.ones(B, P, dtype=torch.bool, device=self.device)
        x = feats if x is None else torch.cat([x, feats], dim=1)
        real = ones if real is None else torch.cat([real, ones], dim=1)
        positions = self.next_pos[:, None] + real.cumsum(1) - 1  # pads repeat the previous position
        hidden = self.net.decode(x, self.net.rope(positions, x.dtype), self.cache, real, [x.shape[1] - 1])
        self.next_pos += real.sum(1)
        self.pending = None
        logits, losses = self._read(hidden[:, 0])
        stale = positions[:, -self.net.cfg.num_multi_token_pred :]
        return logits, losses, self.net.rope(stale, x.dtype)

    def _look_ahead(self) -> torch.Tensor:
        """Predicted loss after the frame's last step: head 0 at its last token, at its true position.

        The next frame's prefill feeds these tokens again (it overwrites what this writes).
        """
        x, real = self._pending_inputs()
        positions = self.next_pos[:, None] + real.cumsum(1) - 1
        hidden = self.net.decode(
            x, self.net.rope(positions, x.dtype), self.cache, real, [x.shape[1] - 1], advance=False
        )
        return self._read(hidden[:, 0])[1][:, 0]

    def _read(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, D) hidden -> (B, K, S+1) logits and (B, K) losses, float32 on the device."""
        return self.net.heads(hidden)


def greedy_pick(logits: torch.Tensor, used: torch.Tensor, left: int, K: int) -> tuple[torch.Tensor, bool]:
    """One decode step's greedy choice over the K heads (the reference's processors and loop).

    Args:
        logits: (B, K, S+1) float32 scores of the K heads.
        used: (B, S+1) bool ids already emitted in this frame (banned in every head).
        left: gazes left in the frame's budget (>= 1).
        K: heads per step.

    Returns:
        tokens (B, m) int64 with m = min(K, left) (on the logits' device), and whether the step
        stopped early (m < K).
    """
    # A head runs out of ids only past the budget (each emitted id is banned and budgets are at
    # most S), so the reference's "row entirely -inf" stop never comes before the budget's.
    m = min(K, left)
    if logits.device.type == "cpu":  # NumPy's small ops cost less than torch's; .numpy() copies nothing
        return torch.from_numpy(_greedy_numpy(logits.numpy(), used.numpy(), m)), m < K
    return _greedy_torch(logits, used, m), m < K


def _greedy_torch(logits: torch.Tensor, used: torch.Tensor, m: int) -> torch.Tensor:
    """`greedy_pick`'s choice of m tokens (B, m) int64 as tensor operations (stays on the device)."""
    scores = logits[:, :m].masked_fill(used[:, None, :], NEG_INF)
    scores[..., -1] = NEG_INF  # EOS is never chosen
    picked = []
    for i in range(m):
        tok = scores[:, i].argmax(-1, keepdim=True)  # (B, 1); ties go to the lowest id
        picked.append(tok)
        if i + 1 < m:  # no repeats within the step
            scores[:, i + 1 :].scatter_(-1, tok[:, None].expand(-1, m - i - 1, 1), NEG_INF)
    return torch.cat(picked, 1)


def _greedy_numpy(logits: np.ndarray, used: np.ndarray, m: int) -> np.ndarray:
    """`greedy_pick`'s choice of m tokens (B, m) int64, in NumPy (the same rule, the same ties)."""
    scores = np.where(used[:, None, :], np.float32(NEG_INF), logits[:, :m])
    scores[..., -1] = NEG_INF
    rows = np.arange(scores.shape[0])[:, None]
    picked = np.empty((scores.shape[0], m), dtype=np.int64)
    for i in range(m):
        picked[:, i] = scores[:, i].argmax(-1)  # ties go to the lowest id, as torch.argmax
        scores[rows, i + 1 :, picked[:, i : i + 1]] = NEG_INF
    return picked


def last_real(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    """(B, n) values, (B, n) bool -> (B,) value at each row's last real entry (NaN if none)."""
    idx = np.where(real, np.arange(real.shape[1])[None], -1).max(1)
    out = values[np.arange(values.shape[0]), np.maximum(idx, 0)].astype(np.float32)
    out[idx < 0] = np.nan
    return out
