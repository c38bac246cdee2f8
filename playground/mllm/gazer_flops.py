"""The gazer's FLOPs: what picking the patches cost, counted against the gazed answer.

Two counts, one per kind of gazer, both never 0 or unknown when a gazer ran:

- **AutoGaze** (a network): analytic, from its config and the decoding the gaze records
  (`GazeResult.settings['decoder_steps']`: per frame, the gazes emitted and the decoder calls),
  by the conventions of `flops.py` (a multiply-add is 2 FLOPs; only matrix products count: the
  encoder's convolutions, the decoder's linears and attention over the growing KV cache, the two
  heads). A test holds it equal to `FlopCounterMode` on the tiny fixture checkpoint.
- **Training-free gazers** (greedy, framediff, random, full, oracle's painting): they do no matrix
  products, so `FlopCounterMode` counts 0 for them. Their count is *measured element operations*:
  every torch operation they run is seen (`ElementOpCounter`, a dispatch mode) and counts one
  operation per element it writes or reads, whichever is more (a reduction reads more than it
  writes); views count nothing; and writing the gaze counts one per slot id. So framediff's count
  is dominated by its per-pixel diff and paste, greedy's by its per-step gains over every pixel.

`gazer_flops` picks the one that applies; `Answer.settings['gazer_flops']` says which.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

ANALYTIC = "analytic (AutoGaze config: matrix products)"
MEASURED = "measured element operations (training-free gazer: no matrix products)"


# ---- AutoGaze, analytic ------------------------------------------------------------------------
def _decoder_call(cfg, clips: int, queries: int, keys_before: int, rows: int = 1) -> int:
    """FLOPs of one fused decoder call (`AutoGazeNet.decode` + `heads`): `queries` new tokens over
    `keys_before` cached ones; the last layer computes only `rows` query rows (the wanted ones)."""
    D, H, Hkv, hd, inter = cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim, cfg.intermediate_size
    keys = keys_before + queries

    def layer(kv_rows: int, q_rows: int) -> int:
        kv = 2 * kv_rows * D * 2 * Hkv * hd
        q = 2 * q_rows * D * H * hd
        attention = 4 * q_rows * H * keys * hd  # QK^T and AV over every key (GQA repeats the keys)
        rest = 2 * q_rows * H * hd * D + 2 * q_rows * D * 2 * inter + 2 * q_rows * inter * D  # o, gate+up, down
        return kv + q + attention + rest

    last_rows = rows if rows < queries else queries
    per_clip = (cfg.num_layers - 1) * layer(queries, queries) + layer(queries, last_rows)
    heads = 2 * D * cfg.vocab_size * cfg.num_multi_token_pred + 2 * D * cfg.num_multi_token_pred
    return clips * (per_clip + heads)


def autogaze_encoder_flops(cfg, clips: int, frames: int) -> int:
    """FLOPs of AutoGaze's vision trunk on `frames` frames of `clips` clips: the patch convolution,
    the causal conv blocks (full temporal kernel per output frame) and the 1x1 projection."""
    P, C, k = cfg.tokens_per_frame, cfg.vision_hidden, cfg.kernel_size
    per_token = (
        3 * k * k * C
        + cfg.vision_depth * C * C * cfg.trunk_temporal_kernel * cfg.trunk_spatial_kernel**2
        + C * cfg.vision_out
    )
    return 2 * clips * frames * P * per_token


def autogaze_flops(cfg, clips: int, frames: Sequence[Sequence[int]], clip_len: int | None = None) -> int:
    """Analytic FLOPs of one AutoGaze `gaze` call, replaying its decoding (`GazeSession._frame`).

    Args:
        cfg: the checkpoint's `AutoGazeConfig`.
        clips: clips decoded together (B; with retargeting, clips x tiles): they share every call.
        frames: per frame, (gazes emitted, decoder calls): `GazeResult.settings['decoder_steps']`.
            A frame's steps are ceil(emitted / K) (every step but the last takes K gazes), its calls
            are its prefill, one call per later step and, when calls exceed steps, the look-ahead.
        clip_len: caches restart every this many frames (None: never).

    Returns:
        FLOPs (2 per multiply-add), matrix products only.
    """
    K, P = cfg.num_multi_token_pred, cfg.tokens_per_frame
    piece = clip_len or len(frames)
    total = autogaze_encoder_flops(cfg, clips, len(frames))
    cache = pending = 0
    for t, (emitted, calls) in enumerate(frames):
        if t % piece == 0:  # a fresh session: empty caches, nothing pending
            cache = pending = 0
        steps = max(1, math.ceil(emitted / K))
        queries = pending + P  # the previous frame's last step, then this frame's vision tokens
        total += _decoder_call(cfg, clips, queries, cache)
        cache += queries
        for _ in range(steps - 1):  # every step but the last is fed back: K tokens
            total += _decoder_call(cfg, clips, K, cache)
            cache += K
        pending = emitted - K * (steps - 1)  # the last step's tokens, fed with the next frame
        if calls > steps:  # the look-ahead: the last step's tokens, the cache unchanged
            total += _decoder_call(cfg, clips, pending, cache)
    return total


def autogaze_gaze_flops(cfg, gaze) -> int | None:
    """`autogaze_flops` of a `GazeResult` an AutoGaze gazer made (None when it holds no decoding record)."""
    steps = gaze.settings.get("decoder_steps")
    if not steps:
        return None
    clips = gaze.batch_size * int(gaze.settings.get("tiles", 1))
    return autogaze_flops(cfg, clips, steps, gaze.settings.get("clip_len"))


# ---- training-free gazers, measured ------------------------------------------------------------
def _numel(values) -> list[int]:
    flat, _ = tree_flatten(values)
    return [t.numel() for t in flat if isinstance(t, torch.Tensor)]


class ElementOpCounter(TorchDispatchMode):
    """Count element operations of every torch op run inside it (see the module docstring).

    An op counts max(elements written, largest input read); ops that only make views count 0.
    """

    def __init__(self):
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        returns = func._schema.returns
        if not any(r.alias_info is not None and not r.alias_info.is_write for r in returns):  # not a view
            self.ops += max([0, *_numel(out), *_numel((args, kwargs or {}))])
        return out


def measured_gazer_ops(run: Callable[[], Any]) -> tuple[Any, int]:
    """Run a training-free gazer call under `ElementOpCounter`; (its GazeResult, its element operations
    plus one per slot id written)."""
    counter = ElementOpCounter()
    with torch.inference_mode(), counter:  # as in `answer`: the same ops whoever calls (autograd adds some)
        gaze = run()
    return gaze, counter.ops + int(gaze.num_gazed)


def is_autogaze(gazer: Any) -> bool:
    """A gazer whose FLOPs are analytic from an AutoGaze config (it holds `net.cfg`)."""
    return getattr(getattr(gazer, "net", None), "cfg", None) is not None


def gazer_flops(gazer: Any, gaze: Any, rerun: Callable[[], Any]) -> tuple[int | None, str]:
    """(FLOPs, how counted) of the gazer that made `gaze`: AutoGaze's analytic from its config and the
    gaze's decoding record; a training-free gazer's measured by `rerun()` (the same gazing call, which
    is deterministic) under the counter, untimed: the counter's dispatch slows small ops 2-3x."""
    if is_autogaze(gazer):
        return autogaze_gaze_flops(gazer.net.cfg, gaze), ANALYTIC
    _, ops = measured_gazer_ops(rerun)
    return ops, MEASURED


__all__ = [
    "autogaze_flops",
    "autogaze_gaze_flops",
    "autogaze_encoder_flops",
    "ElementOpCounter",
    "measured_gazer_ops",
    "gazer_flops",
    "is_autogaze",
    "ANALYTIC",
    "MEASURED",
]
