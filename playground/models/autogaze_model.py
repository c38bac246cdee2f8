"""AutoGaze's gaze model in plain PyTorch: config parsing, modules, KV cache and the decode loop.

The module tree and parameter names follow the published checkpoint (`nvidia/AutoGaze`), so its
`model.safetensors` loads with a strict key check:

    gazing_model.vision_model   causal conv video encoder (per-frame 16x16 patches, temporal conv)
    gazing_model.connector      learned position embedding added to every frame's tokens
    gazing_model.gaze_decoder   Llama-style decoder; `lm_head` predicts K next gazes at once
                                (multi-token prediction), `task_loss_prediction_head` K losses

`GazeSession` runs the reference's greedy decode one frame at a time with a preallocated KV cache
(AUTOGAZE_SPEC.md section 3): prefill the frame's vision tokens, then decode K gazes per step with
the no-repeat / no-EOS rules and the task-loss stop, feeding each step's tokens back with the
reference's "stale" positions. The same session serves whole clips and streaming.

Shapes: B clips, T frames, P vision tokens per frame (196), S gaze slots per frame (265),
K tokens per decode step (10), D hidden size, L cached tokens.
"""

from __future__ import annotations

import math
import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import PlaygroundError, check

NEG_INF = float("-inf")
_NO_PHASE = contextlib.nullcontext()  # reusable: nullcontext keeps no state


# ---- configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class AutoGazeConfig:
    """The architecture knobs of an AutoGaze checkpoint (a flat view of its `config.json`)."""

    scales: tuple[int, ...] = (32, 64, 112, 224)  # gaze scales in pixels, ascending
    num_slots: int = 265  # S: gaze vocabulary per frame (EOS/PAD is id S)
    input_img_size: int = 224  # frames are squashed to this side before the encoder
    kernel_size: int = 16  # encoder patch size (P = (input_img_size / kernel_size)^2 tokens)
    vision_hidden: int = 192
    vision_out: int = 192
    vision_depth: int = 1  # number of causal conv blocks
    trunk_temporal_kernel: int = 3
    trunk_spatial_kernel: int = 3
    hidden_size: int = 192  # D
    intermediate_size: int = 384
    num_layers: int = 4
    num_heads: int = 6
    num_kv_heads: int = 6
    head_dim: int = 32
    rms_norm_eps: float = 1e-5
    rope_theta: float = 500000.0
    rope_scaling: tuple[tuple[str, Any], ...] | None = (
        ("rope_type", "llama3"), ("factor", 8.0), ("low_freq_factor", 1.0), ("high_freq_factor", 4.0),
        ("original_max_position_embeddings", 8192))
    num_multi_token_pred: int = 10  # K
    # How the checkpoint picks the knobs when a call gives neither (its inference strategies).
    default_gazing_ratio: "DefaultKnob" = field(default_factory=lambda: DefaultKnob("fixed", 0.75))
    default_task_loss_requirement: "DefaultKnob" = field(default_factory=lambda: DefaultKnob("fixed", 0.7))
    per_frame_strategy: str = "uniform"  # gazing_ratio_each_frame_config: 'uniform' = same ratio every frame

    @property
    def eos_id(self) -> int:
        """The EOS/PAD id (= S)."""
        return self.num_slots

    @property
    def vocab_size(self) -> int:
        return self.num_slots + 1

    @property
    def tokens_per_frame(self) -> int:
        """P: vision tokens per frame fed to the decoder."""
        return (self.input_img_size // self.kernel_size) ** 2

    @property
    def slots_per_scale(self) -> list[int]:
        """Slots of each scale, as the reference computes them: int(s^2 / sum(s^2) * S)."""
        total = sum(s * s for s in self.scales)
        return [int(s * s / total * self.num_slots) for s in self.scales]

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]) -> "AutoGazeConfig":
        """Parse a serialized `AutoGazeConfig` (`config.json` of the checkpoint).

        Raises PlaygroundError for configs this implementation cannot run.
        """
        check(isinstance(cfg, dict), "an AutoGaze config must be a JSON object")
        model_type = cfg.get("model_type")
        check(model_type in (None, "autogaze"), f"config.json has model_type {model_type!r}, expected 'autogaze'")
        gm = cfg.get("gaze_model_config")
        check(isinstance(gm, dict), "config.json has no 'gaze_model_config' section: not an AutoGaze checkpoint")
        vm, dc = gm.get("vision_model_config") or {}, gm.get("gaze_decoder_config") or {}
        scales = cfg.get("scales", "32+64+112+224")
        try:
            scales = tuple(sorted(int(s) for s in str(scales).replace(",", "+").split("+") if s.strip()))
        except ValueError as exc:
            raise PlaygroundError(f"config.json scales {cfg.get('scales')!r} is not like '32+64+112+224'") from exc
        num_slots = _whole(gm, "num_vision_tokens_each_frame", cfg.get("num_vision_tokens_each_frame", 265))
        hidden = _whole(dc, "hidden_size", 192)
        heads = _whole(dc, "num_attention_heads", 6)
        rope_scaling = dc.get("rope_scaling")
        out = cls(
            scales=scales, num_slots=num_slots,
            input_img_size=_whole(gm, "input_img_size", 224),
            kernel_size=_whole(vm, "kernel_size", 16),
            vision_hidden=_whole(vm, "hidden_dim", 192), vision_out=_whole(vm, "out_dim", 192),
            vision_depth=_whole(vm, "depth", 1, least=0),
            trunk_temporal_kernel=_whole(vm, "trunk_temporal_kernel_size", 3),
            trunk_spatial_kernel=_whole(vm, "trunk_spatial_kernel_size", 3),
            hidden_size=hidden, intermediate_size=_whole(dc, "intermediate_size", 384),
            num_layers=_whole(dc, "num_hidden_layers", 4), num_heads=heads,
            num_kv_heads=_whole(dc, "num_key_value_heads", heads) if dc.get("num_key_value_heads") else heads,
            head_dim=_whole(dc, "head_dim", 0) if dc.get("head_dim") else hidden // heads,
            rms_norm_eps=float(dc.get("rms_norm_eps", 1e-5)), rope_theta=float(dc.get("rope_theta", 10000.0)),
            rope_scaling=None if not rope_scaling else tuple(sorted(rope_scaling.items())),
            num_multi_token_pred=_whole(dc, "num_multi_token_pred", 10),
            default_gazing_ratio=DefaultKnob.parse(cfg.get("gazing_ratio_config"), "gazing_ratio"),
            default_task_loss_requirement=(
                DefaultKnob.parse(cfg.get("task_loss_requirement_config"), "task_loss_requirement")
                if cfg.get("has_task_loss_requirement_during_inference", False) else DefaultKnob("none")),
            per_frame_strategy=str((cfg.get("gazing_ratio_each_frame_config") or {}).get(
                "sample_strategy_during_inference") or "uniform"),
        )
        out._validate(vm, dc)
        return out

    def _validate(self, vm: dict, dc: dict) -> None:
        check(int(vm.get("temporal_patch_size", 1)) == 1, "only temporal_patch_size 1 is supported")
        check(dc.get("hidden_act", "silu") == "silu", f"unsupported decoder activation {dc.get('hidden_act')!r}")
        check(int(dc.get("vocab_size", self.vocab_size)) == self.vocab_size,
              f"decoder vocab_size {dc.get('vocab_size')} != num_vision_tokens_each_frame + 1 = {self.vocab_size}")
        check(self.num_heads % self.num_kv_heads == 0, "num_attention_heads must be a multiple of num_key_value_heads")
        check(self.head_dim >= 1, f"hidden_size {self.hidden_size} is smaller than num_attention_heads {self.num_heads}")
        check(self.head_dim % 2 == 0, "head_dim must be even for rotary embeddings")
        check(sum(self.slots_per_scale) == self.num_slots,
              f"scales {self.scales} do not split {self.num_slots} slots evenly")
        check(self.input_img_size % self.kernel_size == 0, "input_img_size must be a multiple of kernel_size")
        check(self.trunk_temporal_kernel >= 2, "trunk_temporal_kernel_size must be at least 2")
        if self.rope_scaling is not None:
            rope_type = dict(self.rope_scaling).get("rope_type", dict(self.rope_scaling).get("type"))
            check(rope_type in ("llama3", "default"), f"unsupported rope_scaling type {rope_type!r}")


def _whole(section: dict, key: str, default: Any, least: int = 1) -> int:
    """`section[key]` (or `default`) as a whole number of at least `least`, else a one-line PlaygroundError.

    Only the form is checked here; whether a size fits the weights is checked against the
    checkpoint's header before anything is built (`gazers.autogaze.build_net`).
    """
    value = section.get(key, default)
    try:
        check(not isinstance(value, bool) and not (isinstance(value, float) and not value.is_integer()), "")
        number = int(value)
    except (TypeError, ValueError):
        raise PlaygroundError(f"config.json {key} must be a whole number, got {value!r}") from None
    check(number >= least, f"config.json {key} must be at least {least}, got {value!r}")
    return number


@dataclass(frozen=True)
class DefaultKnob:
    """How a checkpoint sets a knob (gazing ratio or task-loss requirement) when a call gives none.

    Parsed from a `{sample_strategy_during_inference, fixed: {key}, uniform: {key_min, key_max}}`
    block of `config.json`. 'fixed' uses one value (the released checkpoints); 'uniform' draws a
    value in [low, high] per call; 'none' leaves the knob unset; any other strategy (e.g. the
    reference's 'exponential') is kept by name and refused when it would be used.
    """

    strategy: str  # 'fixed' | 'uniform' | 'none' | another name (unsupported)
    value: float | None = None  # the 'fixed' value
    low: float | None = None  # the 'uniform' range
    high: float | None = None

    @classmethod
    def parse(cls, section: Any, key: str) -> "DefaultKnob":
        if not isinstance(section, dict):
            return cls("none")
        strategy = str(section.get("sample_strategy_during_inference") or "fixed")
        block = section.get(strategy) if isinstance(section.get(strategy), dict) else {}
        try:
            if strategy == "fixed":
                return cls("fixed", float(block[key])) if block.get(key) is not None else cls("none")
            if strategy == "uniform":
                low, high = float(block[f"{key}_min"]), float(block[f"{key}_max"])
                check(low <= high, f"config.json {key} uniform range [{low}, {high}] is empty")
                return cls("uniform", low=low, high=high)
        except (KeyError, TypeError, ValueError) as exc:
            raise PlaygroundError(f"config.json has a malformed {strategy!r} block for {key}: {block!r}") from exc
        return cls(strategy)

    def draw(self, rng: np.random.Generator, what: str) -> float | None:
        """The knob's value for one call (None for 'none')."""
        if self.strategy == "none":
            return None
        if self.strategy == "fixed":
            return self.value
        if self.strategy == "uniform":
            return float(rng.uniform(self.low, self.high))
        raise PlaygroundError(
            f"this checkpoint samples its default {what} with the {self.strategy!r} strategy, which the "
            f"playground does not reproduce: pass gazing_ratio or task_loss_requirement explicitly")


# ---- modules (names mirror the checkpoint keys) ---------------------------------------------


class TrunkBlock(nn.Module):
    """Causal temporal conv block: left-pad time (or prepend cached frames), conv, ReLU."""

    def __init__(self, dim: int, temporal: int, spatial: int):
        super().__init__()
        self.temporal = temporal
        self.conv3d = nn.Conv3d(dim, dim, (temporal, spatial, spatial), padding=(0, (spatial - 1) // 2, (spatial - 1) // 2))

    def forward(self, x: torch.Tensor, past: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, C, T, h, w), past (B, C, k-1, h, w) or None -> (B, C, T, h, w), new past."""
        if past is None:
            x = F.pad(x, (0, 0, 0, 0, self.temporal - 1, 0))
        else:
            x = torch.cat([past, x], dim=2)
        return F.relu(self.conv3d(x)), x[:, :, -(self.temporal - 1):]


class VisionEncoder(nn.Module):
    """Per-frame 16x16 patch conv, LayerNorm over channels, causal conv blocks, 1x1 projection."""

    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        k = cfg.kernel_size
        self.temporal_conv = nn.Conv3d(3, cfg.vision_hidden, (1, k, k), stride=(1, k, k))
        self.norm = nn.LayerNorm(cfg.vision_hidden)
        self.blocks = nn.ModuleList(TrunkBlock(cfg.vision_hidden, cfg.trunk_temporal_kernel, cfg.trunk_spatial_kernel)
                                    for _ in range(cfg.vision_depth))
        self.out_proj = nn.Conv3d(cfg.vision_hidden, cfg.vision_out, 1)

    def forward(self, video: torch.Tensor, past: list[torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """video (B, T, 3, H, W) -> features (B, T, P, D) and the new per-block conv caches."""
        x = self.temporal_conv(video.permute(0, 2, 1, 3, 4))  # (B, C, T, h, w)
        B, C, T, h, w = x.shape
        # Same op order as the reference, so the conv kernels see identical memory layouts.
        x = x.permute(0, 2, 1, 3, 4).contiguous().view(B * T, C, h * w).permute(0, 2, 1)
        x = self.norm(x).permute(0, 2, 1).contiguous().view(B, T, C, h, w).permute(0, 2, 1, 3, 4)
        new_past = []
        for i, block in enumerate(self.blocks):
            x, cache = block(x, None if past is None else past[i])
            new_past.append(cache)
        x = self.out_proj(x)  # (B, D, T, h, w)
        return x.transpose(1, 2).flatten(3).transpose(2, 3), new_past


class Connector(nn.Module):
    """Adds a learned position embedding (P, D) to every frame's tokens."""

    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(cfg.tokens_per_frame, cfg.vision_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pos_embed[None, None]


# The decoder's modules below only hold its weights under the checkpoint's names: none of them is
# called. The decoder runs in `AutoGazeNet.decode` (the fused decode path) on copies that `fuse`
# concatenates, with the plain functions `_rms`, `_rotate` and `_attention`.


class RMSNorm(nn.Module):
    """Llama RMSNorm's weight (applied in float32 by `_rms`)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps


class Attention(nn.Module):
    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        D, H, Hkv, hd = cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.q_proj = nn.Linear(D, H * hd, bias=False)
        self.k_proj = nn.Linear(D, Hkv * hd, bias=False)
        self.v_proj = nn.Linear(D, Hkv * hd, bias=False)
        self.o_proj = nn.Linear(H * hd, D, bias=False)


class MLP(nn.Module):
    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class LlamaBody(nn.Module):
    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class GazeDecoder(nn.Module):
    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        self.model = LlamaBody(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size * cfg.num_multi_token_pred, bias=False)
        self.task_loss_prediction_head = nn.Linear(cfg.hidden_size, cfg.num_multi_token_pred, bias=False)


class GazingModel(nn.Module):
    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        self.vision_model = VisionEncoder(cfg)
        self.connector = Connector(cfg)
        self.gaze_decoder = GazeDecoder(cfg)


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


# ---- the whole model: weights (`gazing_model`) plus the fused decode path --------------------


class AutoGazeNet(nn.Module):
    """The whole checkpoint (`AutoGaze` has a single child, `gazing_model`), plus fast inference."""

    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        self.cfg = cfg
        self.gazing_model = GazingModel(cfg)
        self.register_buffer("inv_freq", llama3_inv_freq(cfg), persistent=False)
        self._fused: list[tuple[torch.Tensor, ...]] | None = None
        self._static_steps: dict[tuple, "StaticStep"] = {}  # idle pooled steps (their graphs read `_fused`)

    # ---- weights prepared for inference ---------------------------------------------------------
    def fuse(self) -> "AutoGazeNet":
        """Concatenate q/k/v and gate/up weights so each layer runs 4 matmuls instead of 7.

        Call again after changing the weights or moving the module (the fused copies are plain
        tensors, not parameters, so the state dict keeps the checkpoint's layout).
        """
        fused = []
        for layer in self.gazing_model.gaze_decoder.model.layers:
            a, m = layer.self_attn, layer.mlp
            fused.append((
                layer.input_layernorm.weight.detach(),
                torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]).detach(),
                a.o_proj.weight.detach(),
                layer.post_attention_layernorm.weight.detach(),
                torch.cat([m.gate_proj.weight, m.up_proj.weight]).detach(),
                m.down_proj.weight.detach(),
            ))
        self._fused = fused
        self._static_steps.clear()  # captured graphs read the old copies
        return self

    # ---- pooled static decode steps (CUDA graphs are captured once and replayed by every call) ----
    STATIC_POOL = 2  # idle static steps kept (each holds a KV cache of its batch and capacity)

    def take_static_step(self, batch: int, capacity: int, device: torch.device, dtype: torch.dtype) -> "StaticStep":
        """A static step and its cache for `batch` clips of up to `capacity` tokens, from the pool or new.

        Taken out of the pool until `give_static_step`, so two sessions never share one.
        """
        # A graph keeps the autocast state it was captured under: bf16 and float32 steps are apart.
        key = (batch, capacity, str(device), dtype, torch.is_autocast_enabled(torch.device(device).type))
        step = self._static_steps.pop(key, None)
        if step is None:
            step = StaticStep(self, KVCache(self.cfg, batch, capacity, device, dtype, static=True), key)
        step.cache.length = 0
        return step

    def give_static_step(self, step: "StaticStep") -> None:
        """Return a step to the pool (the oldest idle one goes beyond STATIC_POOL)."""
        if step.net is not self or step.key in self._static_steps:
            return
        self._static_steps[step.key] = step
        while len(self._static_steps) > self.STATIC_POOL:
            self._static_steps.pop(next(iter(self._static_steps)))

    # ---- the two halves of the model ------------------------------------------------------------
    def encode(self, video: torch.Tensor, past: list[torch.Tensor] | None = None
               ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Normalised frames (B, T, 3, H, W) -> vision tokens (B, T, P, D) and the conv caches.

        Frames that are not input_img_size square are squashed with bicubic interpolation (no
        antialias), as the reference does inside its gazer.
        """
        size = self.cfg.input_img_size
        B, T = video.shape[:2]
        if tuple(video.shape[-2:]) != (size, size):
            flat = F.interpolate(video.flatten(0, 1), size=(size, size), mode="bicubic", align_corners=False)
            video = flat.view(B, T, *flat.shape[1:])
        feats, new_past = self.gazing_model.vision_model(video, past)
        return self.gazing_model.connector(feats), new_past

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Gaze ids (B, n) -> embeddings (B, n, D)."""
        return F.embedding(ids, self.gazing_model.gaze_decoder.model.embed_tokens.weight)

    def heads(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Final-normed hidden (B, D) -> logits (B, K, S+1) float32 and predicted losses (B, K) float32."""
        dec = self.gazing_model.gaze_decoder
        logits = F.linear(hidden, dec.lm_head.weight).float()
        losses = F.linear(hidden, dec.task_loss_prediction_head.weight).float()
        return logits.view(hidden.shape[0], self.cfg.num_multi_token_pred, self.cfg.vocab_size), losses

    def decode(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], cache: "KVCache",
               real: torch.Tensor, rows: list[int], advance: bool = True, static: bool = False) -> torch.Tensor:
        """Run the decoder on new tokens, appending their keys/values to the cache.

        Args:
            x: (B, Q, D) input embeddings of the new tokens.
            rope: (cos, sin) of their positions, from `rope` (B, 1, Q, head_dim).
            cache: the batch's KV cache (L tokens so far).
            real: (B, Q) bool, False for padding tokens (masked for every later query).
            rows: indices into Q whose final hidden states are wanted; the last layer only
                computes these rows (the other rows' outputs are never read).
            advance: False runs a look-ahead that leaves the cache length unchanged.
            static: fixed shapes for a CUDA graph: write at the device index `cache.start` and
                attend over the cache's whole (zero-filled) capacity, the entries not yet written
                masked. The caller advances `cache.length` (see `StaticStep`). Equal to the
                dynamic form up to float rounding.

        Returns:
            (B, len(rows), D) hidden states after the final RMSNorm.
        """
        if self._fused is None:
            self.fuse()
        cfg = self.cfg
        B, Q, _ = x.shape
        if static:
            at = cache.start + cache.key_index[:Q]  # (Q,) where the new tokens go
            bias = cache.static_bias(at, real)  # (B, 1, Q, capacity)
        else:
            L = cache.append_mask(real)
            bias = cache.attention_bias(Q)  # (B, 1, Q, L + Q) additive 0 / -inf
        cos, sin = rope
        H, Hkv, hd = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        eps, last = cfg.rms_norm_eps, len(self._fused) - 1
        # A run of rows is a slice: indexing by a list would copy it to the device, which a CUDA
        # graph cannot capture.
        pick = slice(rows[0], rows[-1] + 1) if rows == list(range(rows[0], rows[-1] + 1)) else rows
        for li, (w_in, w_qkv, w_o, w_post, w_gu, w_down) in enumerate(self._fused):
            h = _rms(x, w_in, eps)
            if li == last and len(rows) < Q:
                # Only the wanted rows go further than this layer's keys and values.
                k, v = F.linear(h, w_qkv[H * hd:]).split(Hkv * hd, dim=-1)
                k = _rotate(k.view(B, Q, Hkv, hd).transpose(1, 2), cos, sin)
                q = F.linear(h[:, pick], w_qkv[:H * hd]).view(B, len(rows), H, hd).transpose(1, 2)
                q = _rotate(q, cos[:, :, pick], sin[:, :, pick])
                x, bias = x[:, pick], bias[:, :, pick]
            else:
                qk, v = F.linear(h, w_qkv).split([(H + Hkv) * hd, Hkv * hd], dim=-1)
                q, k = _rotate(qk.view(B, Q, H + Hkv, hd).transpose(1, 2), cos, sin).split([H, Hkv], dim=1)
            v = v.view(B, Q, Hkv, hd).transpose(1, 2)
            if static:
                cache.k[li].index_copy_(2, at, k.to(cache.dtype))
                cache.v[li].index_copy_(2, at, v.to(cache.dtype))
                keys, values = cache.k[li], cache.v[li]
            else:
                cache.k[li][:, :, L:L + Q] = k
                cache.v[li][:, :, L:L + Q] = v
                keys, values = cache.k[li][:, :, :L + Q], cache.v[li][:, :, :L + Q]
            attn = _attention(q, keys, values, bias, H // Hkv, hd ** -0.5)
            x = x + F.linear(attn.transpose(1, 2).reshape(B, -1, H * hd), w_o)
            gate, up = F.linear(_rms(x, w_post, eps), w_gu).chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, w_down)
        if advance and not static:
            cache.length = L + Q
        return _rms(x, self.gazing_model.gaze_decoder.model.norm.weight, eps)

    def rope(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, Q) int64 positions -> cos, sin (B, 1, Q, head_dim), computed as the reference (float32)."""
        freqs = positions.to(torch.float32)[..., None] * self.inv_freq.to(torch.float32)
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos().to(dtype)[:, None], emb.sin().to(dtype)[:, None]


# ---- the fused decode path: plain functions on the weights `fuse` prepared ------------------


def _rms(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """RMSNorm in float32 (the reference's op order; `F.rms_norm` is bit-identical for float32)."""
    if x.dtype == torch.float32 and weight.dtype == torch.float32:
        return F.rms_norm(x, weight.shape, weight, eps)
    dtype = x.dtype
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(dtype)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Apply rotary embeddings with rotate_half (first half / second half)."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, groups: int,
               scale: float) -> torch.Tensor:
    """Softmax attention: q (B, H, Q, hd), k/v (B, Hkv, L, hd), bias (B, 1, Q, L) additive 0 / -inf."""
    if groups > 1:
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), scale=scale)


# ---- KV cache ------------------------------------------------------------------------------


class KVCache:
    """Preallocated keys/values of every decoder layer for a batch, grown by doubling.

    `bias[b, i]` is 0 for a real token and -inf for padding, which later queries never attend to.
    """

    def __init__(self, cfg: AutoGazeConfig, batch: int, capacity: int, device: torch.device, dtype: torch.dtype,
                 static: bool = False):
        self.cfg, self.batch, self.device, self.dtype = cfg, batch, device, dtype
        self.static = static  # zero-filled, for `decode(static=True)`, which reads the whole capacity
        self.length = 0
        self.capacity = 0
        self.generation = 0  # bumped when the buffers are reallocated (a captured graph is then stale)
        self._alloc(max(capacity, 1))
        self._causal: dict[int, torch.Tensor] = {}

    def _alloc(self, capacity: int) -> None:
        shape = (self.cfg.num_layers, self.batch, self.cfg.num_kv_heads, capacity, self.cfg.head_dim)
        # Uninitialised is fine for the dynamic form: attention only reads the first L + Q entries,
        # all written. The static form reads them all, masked, so they must be finite.
        make = torch.zeros if self.static else torch.empty
        k = make(shape, device=self.device, dtype=self.dtype)
        v = make(shape, device=self.device, dtype=self.dtype)
        bias = torch.zeros(self.batch, capacity, dtype=torch.float32, device=self.device)
        if self.capacity:
            n = self.capacity
            k[..., :n, :], v[..., :n, :], bias[:, :n] = self.k, self.v, self.bias
        self.k, self.v, self.bias = k, v, bias
        self.capacity = capacity
        self.generation += 1
        if self.static:
            self.key_index = torch.arange(capacity, device=self.device)  # (capacity,)
            self.start = torch.zeros((), dtype=torch.int64, device=self.device)  # the static write index

    def static_bias(self, at: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """(B, 1, Q, capacity) mask of Q new tokens written at `at` (Q,): earlier real tokens and the
        new ones up to each query are visible; padding and entries not yet written are not."""
        self.bias.index_copy_(1, at, torch.where(real, 0.0, NEG_INF))
        causal = torch.where(self.key_index[None, :] <= at[:, None], 0.0, NEG_INF)  # (Q, capacity)
        return self.bias[:, None, None, :] + causal[None, None]

    def append_mask(self, real: torch.Tensor) -> int:
        """Make room for Q = real.shape[1] new tokens and record which are real; returns L."""
        Q = real.shape[1]
        if self.length + Q > self.capacity:
            self._alloc(max(2 * self.capacity, self.length + Q))
        L = self.length
        self.bias[:, L:L + Q] = torch.where(real, 0.0, NEG_INF)
        return L

    def attention_bias(self, q: int) -> torch.Tensor:
        """(B, 1, q, L + q) additive mask of q new tokens: padding hidden, causal among the new ones."""
        L = self.length
        if q not in self._causal:
            self._causal[q] = torch.full((q, q), NEG_INF, device=self.device).triu(1)
        bias = self.bias[:, None, None, :L + q].repeat(1, 1, q, 1)
        bias[..., L:] += self._causal[q]
        return bias


class StaticStep:
    """A decode step of K tokens with fixed shapes over a static KV cache; a CUDA graph on CUDA.

    Inputs and outputs live in fixed buffers, and the cache position is a device tensor
    (`cache.start`), so one captured graph replays every step of every frame: on a GPU a step
    costs one launch instead of about a hundred small kernels. On CUDA the graph is captured on
    first use, and again if the cache was reallocated; elsewhere the same fixed-shape step runs
    eagerly (how the CPU tests prove it equal to the dynamic one).

    Args:
        net: the model.
        cache: a static `KVCache` (its capacity bounds the clip).
        key: its place in the net's pool (`AutoGazeNet.take_static_step`).
    """

    def __init__(self, net: "AutoGazeNet", cache: KVCache, key: tuple = ()):
        cfg = net.cfg
        check(cache.static, "StaticStep needs a static KVCache")
        K, B, dev = cfg.num_multi_token_pred, cache.batch, cache.device
        self.net, self.cache, self.key, self.K = net, cache, key, K
        self.graph = dev.type == "cuda"
        self.ids = torch.full((B, K), cfg.eos_id, dtype=torch.int64, device=dev)  # (B, K) fed ids
        self.cos = torch.zeros(B, 1, K, cfg.head_dim, dtype=cache.dtype, device=dev)  # (B, 1, K, hd)
        self.sin = torch.zeros_like(self.cos)
        self.logits: torch.Tensor | None = None  # (B, K, S+1) outputs, overwritten by every call
        self.losses: torch.Tensor | None = None  # (B, K)
        self._graph = None
        self._generation = -1

    def _run(self) -> None:
        hidden = self.net.decode(self.net.embed(self.ids), (self.cos, self.sin), self.cache,
                                 self.ids != self.net.cfg.eos_id, [self.K - 1], static=True)
        self.logits, self.losses = self.net.heads(hidden[:, 0])

    def _capture(self) -> None:
        # The warm-up runs the very step the replay repeats (it rewrites the same cache entries).
        side = torch.cuda.Stream(self.cache.device)
        side.wait_stream(torch.cuda.current_stream(self.cache.device))
        with torch.cuda.stream(side):
            self._run()
        torch.cuda.current_stream(self.cache.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # thread_local: the app gazes in several threads, whose CUDA work must not abort this capture.
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            self._run()
        self._graph, self._generation = graph, self.cache.generation

    def __call__(self, ids: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Feed ids (B, K) at the cache's end with rope (cos, sin) (B, 1, K, hd); returns the last
        token's (logits, losses), valid until the next call."""
        self.ids.copy_(ids)
        self.cos.copy_(rope[0])
        self.sin.copy_(rope[1])
        if self.cache.length + self.K > self.cache.capacity:
            self.cache.append_mask(ids != self.net.cfg.eos_id)  # grows the buffers (a new graph follows)
        self.cache.start.fill_(self.cache.length)
        if not self.graph:
            self._run()
        else:
            if self._graph is None or self._generation != self.cache.generation:
                self._capture()
            self._graph.replay()
        self.cache.length += self.K
        return self.logits, self.losses


# ---- greedy decoding, one frame at a time ---------------------------------------------------


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

    def frame(self, feats: torch.Tensor, budget: int, requirement: float | None,
              stop: Callable[[torch.Tensor, bool], torch.Tensor] | None = None) -> FrameGaze:
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

    def _frame(self, feats: torch.Tensor, budget: int, requirement: float | None,
               stop: Callable[[torch.Tensor, bool], torch.Tensor] | None = None) -> FrameGaze:
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
            step_loss[:, :n] = losses[:, 1:n + 1]
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
        return FrameGaze(ids.astype(np.int64), loss, _last_real(loss, ids != EOS), calls)

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

    def _prefill_tokens(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
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
        stale = positions[:, -self.net.cfg.num_multi_token_pred:]
        return logits, losses, self.net.rope(stale, x.dtype)

    def _look_ahead(self) -> torch.Tensor:
        """Predicted loss after the frame's last step: head 0 at its last token, at its true position.

        The next frame's prefill feeds these tokens again (it overwrites what this writes).
        """
        x, real = self._pending_inputs()
        positions = self.next_pos[:, None] + real.cumsum(1) - 1
        hidden = self.net.decode(x, self.net.rope(positions, x.dtype), self.cache, real, [x.shape[1] - 1],
                                 advance=False)
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
            scores[:, i + 1:].scatter_(-1, tok[:, None].expand(-1, m - i - 1, 1), NEG_INF)
    return torch.cat(picked, 1)


def _greedy_numpy(logits: np.ndarray, used: np.ndarray, m: int) -> np.ndarray:
    """`greedy_pick`'s choice of m tokens (B, m) int64, in NumPy (the same rule, the same ties)."""
    scores = np.where(used[:, None, :], np.float32(NEG_INF), logits[:, :m])
    scores[..., -1] = NEG_INF
    rows = np.arange(scores.shape[0])[:, None]
    picked = np.empty((scores.shape[0], m), dtype=np.int64)
    for i in range(m):
        picked[:, i] = scores[:, i].argmax(-1)  # ties go to the lowest id, as torch.argmax
        scores[rows, i + 1:, picked[:, i:i + 1]] = NEG_INF
    return picked


def _last_real(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    """(B, n) values, (B, n) bool -> (B,) value at each row's last real entry (NaN if none)."""
    idx = np.where(real, np.arange(real.shape[1])[None], -1).max(1)
    out = values[np.arange(values.shape[0]), np.maximum(idx, 0)].astype(np.float32)
    out[idx < 0] = np.nan
    return out
