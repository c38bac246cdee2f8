"""The gaze decoder's math, written once: RMSNorm, rotary embeddings, the fused projections,
attention and the MLP, composed by `decoder_layer`.

Inference (`AutoGazeNet.decode`: a KV cache, an additive mask, only the wanted rows in the last
layer) and training (`training.forward`: the whole sequence causal, pads in a second stream) both
run every layer through `decoder_layer`; they differ only in the `attend` callback that gives the
layer's queries their keys. The float32 op order follows the reference (HF Llama), so inference
reproduces its gazes bit for bit.

Shapes: B clips, Q tokens fed, L keys attended, D hidden size, H query heads, Hkv key/value heads,
hd head size.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, NamedTuple

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from .config import AutoGazeConfig

Rope = tuple[torch.Tensor, torch.Tensor]  # (cos, sin) (B, 1, Q, hd)
Rows = slice | list[int] | None  # the query rows a layer computes (None: all)
# attend(q (B, H, Q', hd), k, v (B, Hkv, Q, hd) or None) -> (B, H, Q', hd): the layer's attention.
Attend = Callable[[torch.Tensor, torch.Tensor | None, torch.Tensor | None], torch.Tensor]


class LayerWeights(NamedTuple):
    """One decoder layer's weights in the fused layout (`DecoderLayer.weights`)."""

    norm_in: torch.Tensor  # (D,) input RMSNorm
    qkv: torch.Tensor  # ((H + 2 Hkv) hd, D) q, k, v projections stacked
    o: torch.Tensor  # (D, H hd)
    norm_post: torch.Tensor  # (D,) post-attention RMSNorm
    gate_up: torch.Tensor  # (2 I, D) gate and up projections stacked
    down: torch.Tensor  # (D, I)


def llama3_inv_freq(cfg: AutoGazeConfig) -> torch.Tensor:
    """(head_dim/2,) float32 rotary frequencies, with llama3 scaling when configured.

    The float32 op order follows the reference so that positions rotate bit-identically.
    """
    dim = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).to(torch.float32) / dim))
    scaling = dict(cfg.rope_scaling or ())
    if scaling.get("rope_type", scaling.get("type")) != "llama3":
        return inv_freq
    factor, low, high = float(scaling["factor"]), float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
    old_len = float(scaling["original_max_position_embeddings"])
    low_wavelen, high_wavelen = old_len / low, old_len / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, scaled)


def rope_tables(positions: torch.Tensor, inv_freq: torch.Tensor, dtype: torch.dtype) -> Rope:
    """(B, Q) int64 positions -> cos, sin (B, 1, Q, hd), computed as the reference (float32)."""
    freqs = positions.to(torch.float32)[..., None] * inv_freq.to(torch.float32)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos().to(dtype)[:, None], emb.sin().to(dtype)[:, None]


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """RMSNorm in float32 (the reference's op order; `F.rms_norm` is bit-identical for float32)."""
    if x.dtype == torch.float32 and weight.dtype == torch.float32:
        return F.rms_norm(x, weight.shape, weight, eps)
    dtype = x.dtype
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(dtype)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Apply rotary embeddings with rotate_half (first half / second half)."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


def _heads(proj: torch.Tensor, heads: int, hd: int) -> torch.Tensor:
    """(B, Q, heads * hd) -> (B, heads, Q, hd)."""
    return proj.view(proj.shape[0], proj.shape[1], heads, hd).transpose(1, 2)


def project(
    h: torch.Tensor, w: LayerWeights, cfg: AutoGazeConfig, rope: Rope, rows: Rows = None, keys: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Normed tokens (B, Q, D) -> rotated queries (B, H, Q', hd) of `rows`, and rotated keys and
    values (B, Hkv, Q, hd) of every token (None, None when `keys` is False).

    All rows with keys take one matrix product; otherwise only what is asked for is computed.
    """
    H, Hkv, hd = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
    cos, sin = rope
    if rows is None and keys:
        qk, v = F.linear(h, w.qkv).split([(H + Hkv) * hd, Hkv * hd], dim=-1)
        q, k = rotate(_heads(qk, H + Hkv, hd), cos, sin).split([H, Hkv], dim=1)
        return q, k, _heads(v, Hkv, hd)
    k = v = None
    if keys:
        k, v = F.linear(h, w.qkv[H * hd :]).split(Hkv * hd, dim=-1)
        k, v = rotate(_heads(k, Hkv, hd), cos, sin), _heads(v, Hkv, hd)
    if rows is not None:
        h, cos, sin = h[:, rows], cos[:, :, rows], sin[:, :, rows]
    q = rotate(_heads(F.linear(h, w.qkv[: H * hd]), H, hd), cos, sin)
    return q, k, v


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cfg: AutoGazeConfig,
    mask: torch.Tensor | None = None,
    causal: bool = False,
) -> torch.Tensor:
    """Softmax attention: q (B, H, Q, hd), k/v (B, Hkv, L, hd) -> (B, H, Q, hd).

    `mask` (B, 1, Q, L) is bool (True: visible) or additive (0 / -inf); `causal` masks by order.
    """
    groups = cfg.num_heads // cfg.num_kv_heads
    if groups > 1:
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    if mask is not None and mask.dtype != torch.bool:
        mask = mask.to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, scale=cfg.head_dim**-0.5)


def finish(x: torch.Tensor, attn: torch.Tensor, w: LayerWeights, eps: float) -> torch.Tensor:
    """Residual stream x (B, Q, D) plus the attention's output (B, H, Q, hd), then plus the MLP."""
    B, Q = x.shape[:2]
    x = x + F.linear(attn.transpose(1, 2).reshape(B, Q, -1), w.o)
    gate, up = F.linear(rms_norm(x, w.norm_post, eps), w.gate_up).chunk(2, dim=-1)
    return x + F.linear(F.silu(gate) * up, w.down)


def decoder_layer(
    x: torch.Tensor,
    w: LayerWeights,
    cfg: AutoGazeConfig,
    rope: Rope,
    attend: Attend,
    rows: Rows = None,
    keys: bool = True,
) -> torch.Tensor:
    """One pre-norm Llama layer: x (B, Q, D) -> (B, Q', D), the Q' = len(rows) rows asked for.

    Args:
        w: the layer's weights.
        rope: (cos, sin) of the Q tokens' positions.
        attend: the layer's attention, given the rotated queries of `rows` and the keys and values
            of all Q tokens (None when `keys` is False); it adds what else they see (a cache,
            another stream's keys) and the mask.
        rows: the rows whose outputs are wanted (None: all); the others stop at their keys.
        keys: False when the tokens are only queries (their keys are never attended to).
    """
    q, k, v = project(rms_norm(x, w.norm_in, cfg.rms_norm_eps), w, cfg, rope, rows, keys)
    return finish(x if rows is None else x[:, rows], attend(q, k, v), w, cfg.rms_norm_eps)
