"""FLOPs of the MLLM stages: measured with `FlopCounterMode`, and analytic from the model config.

Conventions (the same in both, so that they can be compared): a multiply-add is 2 FLOPs, and only
matrix products count (linear layers, convolutions, batched matmuls and attention), as
`torch.utils.flop_counter` does; norms, activations and softmax are left out. Attention counts the
whole Nq x Nk score matrix even where a mask hides part of it, because SDPA computes it anyway:
a block-causal mask over N gazed tokens costs N^2, not N^2 / 2. Frame-independent attention runs
each frame as its own sequence (no mask), so it costs the sum of n_t^2 over frames.

What differs between families (the shape a config describes, how many LLM tokens a stock or
gazed clip becomes, a typical prompt length) is a method of the family (`families.Family`); the
functions here only count.

On this torch the CPU SDPA kernel (`aten._scaled_dot_product_flash_attention_for_cpu`) and the
triangular solve (`aten.linalg_solve_triangular`, in Qwen3.5's chunked delta rule) have no formula
and count as 0 FLOPs; `StageCounter` passes one in for each through `custom_mapping`, so nothing is
registered globally.

Hybrid LLMs (Qwen3.5) mix full-attention layers with Gated DeltaNet linear-attention layers
(`LinearAttentionShape`), counted as `transformers`' torch path runs them (the path on CPU, and on a
GPU without the `flash-linear-attention` and `causal-conv1d` kernels, whose Triton / CUDA kernels
`FlopCounterMode` would not see): per token its projections (q, k, v together, the output gate z,
the rates a and b, the output); in the prefill its depthwise causal conv over the positions torch
computes (max(L, K) + K - 1 of them for kernel K, the padded ones included) and the chunked delta rule
over ceil(L / 64) chunks of 64 tokens (the padding included), per chunk and value head two C x C
products (k_beta k^T and q k^T), the triangular solves (new values and decayed keys), the intra-chunk
(C x C) x (C x dv) product and three products with the (dk x dv) state; in a decode step the conv's 2
output positions. The decode step's state update is elementwise (`torch_recurrent_gated_delta_rule`:
multiplies and sums, about 7 dk dv per value head a token), so, like norms and activations, it is not
counted, measured or analytic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from ..device import synchronize
from ..errors import check
from .gazed_vit import gazed_tokens

aten = torch.ops.aten
CPU_SDPA = aten._scaled_dot_product_flash_attention_for_cpu
# Ops that compute attention scores and their weighted sums (SDPA kernels, or eager's bmm).
ATTENTION_OPS = (
    CPU_SDPA,
    aten._scaled_dot_product_flash_attention,
    aten._scaled_dot_product_efficient_attention,
    aten._scaled_dot_product_cudnn_attention,
    aten.bmm,
    aten.baddbmm,
)

STAGES = ("gazer", "vision_encoder", "vision_attention", "connector", "llm_prefill", "llm_decode")


def _cpu_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of the CPU SDPA kernel: QK^T and AV over the full score matrix (GQA aware)."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _solve_triangular_flop(a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of a triangular solve A X = B (or X A = B), A (..., n, n), by substitution: n (n - 1) / 2
    multiply-adds per column (row) of B, so n - 1 FLOPs per element of B at 2 per multiply-add; a non-unit
    diagonal's divisions are no matrix product and are not counted."""
    n = a_shape[-1]
    elements = 1
    for size in b_shape:
        elements *= size
    return elements * (n - 1)


# The formulas `FlopCounterMode` lacks on this torch (passed to each counter, not registered globally).
CUSTOM_FLOPS = {CPU_SDPA: _cpu_sdpa_flop, aten.linalg_solve_triangular: _solve_triangular_flop}


class StageCounter:
    """Time and (optionally) count the FLOPs of one stage.

    Use as a context manager; `seconds`, `flops` (None when not counting) and `attention_flops`
    are filled on exit. `snapshot()` gives the FLOPs counted so far (for splitting prefill from decode).
    """

    def __init__(self, device: torch.device, count: bool):
        self.device = device
        self.mode = FlopCounterMode(display=False, custom_mapping=CUSTOM_FLOPS) if count else None
        self.seconds = 0.0
        self.cpu_seconds = 0.0  # process CPU time (all threads): steadier than wall time on a shared machine
        self.flops: int | None = None
        self.attention_flops: int | None = None
        self._start = 0.0
        self._cpu_start = 0.0

    def __enter__(self) -> "StageCounter":
        if self.mode is not None:
            self.mode.__enter__()
        synchronize(self.device)
        self._start = time.perf_counter()
        self._cpu_start = time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        synchronize(self.device)
        self.seconds = time.perf_counter() - self._start
        self.cpu_seconds = time.process_time() - self._cpu_start
        if self.mode is not None:
            self.mode.__exit__(*exc)
            self.flops = int(self.mode.get_total_flops())
            counts = self.mode.get_flop_counts().get("Global", {})
            self.attention_flops = int(sum(v for op, v in counts.items() if op in ATTENTION_OPS))

    def elapsed(self) -> float:
        """Seconds since the stage started (device synchronised)."""
        synchronize(self.device)
        return time.perf_counter() - self._start

    def cpu_elapsed(self) -> float:
        """Process CPU seconds since the stage started."""
        return time.process_time() - self._cpu_start

    def snapshot(self) -> int | None:
        """FLOPs counted so far in this stage, or None when not counting."""
        return None if self.mode is None else int(self.mode.get_total_flops())


# ---- analytic --------------------------------------------------------------------------------
@dataclass(frozen=True)
class VisionShape:
    """The sizes of a ViT encoder that FLOPs depend on."""

    hidden: int  # d
    intermediate: int  # MLP width m
    layers: int  # encoder layers that run
    patch: int  # patch side p in pixels
    channels: int = 3


# The chunk size of `transformers`' chunked gated delta rule (`torch_chunk_gated_delta_rule`'s default,
# which the Qwen3.5 layers do not change): the prefill pads its tokens to whole chunks of this many.
GATED_DELTA_CHUNK = 64


@dataclass(frozen=True)
class LinearAttentionShape:
    """The sizes of a hybrid LLM's Gated DeltaNet (linear-attention) layers that FLOPs depend on."""

    layers: int  # decoder layers whose token mixer is a Gated DeltaNet (the rest attend in full)
    key_heads: int  # query/key heads Hk
    value_heads: int  # value heads Hv (each query/key head serves Hv / Hk of them)
    key_dim: int  # dk per head
    value_dim: int  # dv per head
    conv_kernel: int  # K, the depthwise causal conv over q, k and v
    chunk: int = GATED_DELTA_CHUNK  # C, tokens per chunk of the prefill's delta rule

    @property
    def conv_channels(self) -> int:
        """Channels of the causal conv: q, k and v side by side (2 Hk dk + Hv dv)."""
        return 2 * self.key_heads * self.key_dim + self.value_heads * self.value_dim


@dataclass(frozen=True)
class TextShape:
    """The sizes of a decoder-only LLM (Llama / Qwen2 / Qwen3; Qwen3.5's hybrid with `linear`) that FLOPs depend on."""

    hidden: int  # D
    intermediate: int  # gated MLP width I (every layer has one)
    layers: int  # decoder layers, linear-attention ones included
    heads: int  # query heads H of the full-attention layers
    kv_heads: int  # key/value heads (GQA)
    head_dim: int
    vocab: int  # lm_head output size V
    gated_query: bool = False  # q_proj also makes the attention output's gate (Qwen3.5): 2 H hd outputs
    linear: LinearAttentionShape | None = None  # the Gated DeltaNet layers among `layers` (None: all attend in full)

    @property
    def attention_layers(self) -> int:
        """Layers with full (softmax) attention."""
        return self.layers - (self.linear.layers if self.linear else 0)


def vision_flops(shape: VisionShape, embedded_patches: int, sequences: Sequence[int]) -> tuple[int, int]:
    """FLOPs of the vision encoder: patch embedding + `layers` pre-LN blocks.

    Args:
        shape: the encoder sizes.
        embedded_patches: patches that go through the patch-embedding convolution.
        sequences: lengths of the attention sequences (stock: one per frame; gazed: one of N tokens,
            or one per gazed frame with frame-independent attention).

    Returns:
        (total FLOPs, attention-score FLOPs included in the total).
    """
    d, m = shape.hidden, shape.intermediate
    tokens = sum(sequences)
    embed = 2 * embedded_patches * shape.channels * shape.patch**2 * d
    linear = 2 * tokens * (4 * d * d + 2 * d * m)  # q, k, v, out projections + two MLP layers
    attention = sum(4 * n * n * d for n in sequences)  # QK^T and AV over all heads
    return embed + shape.layers * (linear + attention), shape.layers * attention


def llm_token_flops(shape: TextShape) -> int:
    """Matmul FLOPs of one token through all decoder layers, attention scores (and the delta rule) excluded."""
    D, hd = shape.hidden, shape.head_dim
    queries = 2 if shape.gated_query else 1  # Qwen3.5's q_proj also makes the output gate
    proj = D * shape.heads * hd * (queries + 1) + D * shape.kv_heads * hd * 2  # q (and gate) and o, k and v
    mlp = 3 * D * shape.intermediate  # gate, up, down
    flops = 2 * (shape.attention_layers * proj + shape.layers * mlp)
    if shape.linear is not None:
        flops += shape.linear.layers * linear_attention_token_flops(D, shape.linear)
    return flops


def linear_attention_token_flops(hidden: int, shape: LinearAttentionShape) -> int:
    """Matmul FLOPs of one token through one Gated DeltaNet layer's projections: in_proj_qkv, in_proj_z (the
    output gate), in_proj_a and in_proj_b (per value head: decay and update rates), out_proj."""
    values = shape.value_heads * shape.value_dim
    return 2 * hidden * (shape.conv_channels + values + 2 * shape.value_heads) + 2 * values * hidden


def linear_attention_prefill_flops(shape: LinearAttentionShape, tokens: int) -> int:
    """FLOPs of one Gated DeltaNet layer's token mixing over a prefill of `tokens` (projections excluded), as
    `transformers`' torch path computes it (see the module docstring): the causal conv and the chunked delta rule."""
    K, C, dk, dv = shape.conv_kernel, shape.chunk, shape.key_dim, shape.value_dim
    conv = 2 * shape.conv_channels * K * (max(tokens, K) + K - 1)  # generate's cache pads a short prompt to K
    per_chunk = (
        2 * 2 * C * C * dk  # k_beta k^T (the UT system) and q k^T (intra-chunk attention)
        + C * (C - 1) * (dv + dk)  # the two unit-triangular solves: new values and decayed keys
        + 2 * C * C * dv  # intra-chunk attention x corrected values
        + 3 * 2 * C * dk * dv  # decayed keys x state, queries x state, keys^T x corrected values
    )
    return conv + -(-tokens // C) * shape.value_heads * per_chunk


def linear_attention_decode_flops(shape: LinearAttentionShape) -> int:
    """FLOPs of one Gated DeltaNet layer's token mixing in one decode step (projections excluded): the causal
    conv over its K cached inputs and the new one (2 output positions); the state update is elementwise."""
    return 2 * shape.conv_channels * shape.conv_kernel * 2


def llm_prefill_flops(shape: TextShape, prompt_tokens: int) -> int:
    """FLOPs of the prefill: every prompt token, full L x L attention (linear attention: its conv and
    chunked delta rule), lm_head on the last token."""
    L = prompt_tokens
    attention = shape.attention_layers * 4 * shape.heads * shape.head_dim * L * L
    if shape.linear is not None:
        attention += shape.linear.layers * linear_attention_prefill_flops(shape.linear, L)
    return L * llm_token_flops(shape) + attention + 2 * shape.hidden * shape.vocab


def llm_decode_flops(shape: TextShape, prompt_tokens: int, new_tokens: int) -> int:
    """FLOPs of the decode steps after the prefill (new_tokens - 1 steps; step k sees L + k keys)."""
    linear = 0 if shape.linear is None else shape.linear.layers * linear_attention_decode_flops(shape.linear)
    total = 0
    for k in range(1, max(new_tokens, 1)):
        attention = shape.attention_layers * 4 * shape.heads * shape.head_dim * (prompt_tokens + k)
        total += llm_token_flops(shape) + attention + linear + 2 * shape.hidden * shape.vocab
    return total


def linear_flops(tokens: int, sizes: Sequence[tuple[int, int]]) -> int:
    """FLOPs of `tokens` rows through linear layers of (in, out) sizes."""
    return sum(2 * tokens * i * o for i, o in sizes)


# ---- whole models, from the config alone -------------------------------------------------------
@dataclass(frozen=True)
class ArchitectureShape:
    """The sizes of a supported MLLM that its FLOPs depend on, read from its config (no weights needed).

    Each family (`families.py`) builds its own with `Family.architecture_shape(config)`.
    """

    kind: str  # the family's registry name (its config's model_type, a key of families.FAMILIES)
    vision: VisionShape  # every encoder layer (the stock tower runs them all)
    gazed_layers: int  # layers the gazed encoder runs (LLaVA-OV stops at its feature layer)
    text: TextShape
    connector: tuple[tuple[int, int], ...]  # (in, out) of the linear layers each patch meets
    factor: int  # patches merged per side by the connector (SmolVLM's pixel-shuffle r); 1 when none
    stock_side: int  # px of a stock frame
    temporal: int = 1  # frames per encoder patch (Qwen-VL's tubelets: 2)


def vision_shape(v) -> VisionShape:
    """The `VisionShape` of a ViT config (every layer)."""
    return VisionShape(v.hidden_size, v.intermediate_size, v.num_hidden_layers, v.patch_size, v.num_channels)


def text_shape(t) -> TextShape:
    """The `TextShape` of a Llama / Qwen2 text config (head_dim and KV heads default as transformers does)."""
    heads = t.num_attention_heads
    return TextShape(
        hidden=t.hidden_size,
        intermediate=t.intermediate_size,
        layers=t.num_hidden_layers,
        heads=heads,
        kv_heads=getattr(t, "num_key_value_heads", None) or heads,
        head_dim=getattr(t, "head_dim", None) or t.hidden_size // heads,
        vocab=t.vocab_size,
    )


def hybrid_text_shape(t) -> TextShape:
    """The `TextShape` of a Qwen3.5 text config: full-attention layers whose q_proj also makes the output
    gate, and Gated DeltaNet layers where `layer_types` says 'linear_attention'."""
    kinds = list(t.layer_types)[: t.num_hidden_layers]
    check(
        set(kinds) <= {"linear_attention", "full_attention"},
        f"unknown layer types {sorted(set(kinds) - {'linear_attention', 'full_attention'})} in the text config",
    )
    linear = LinearAttentionShape(
        layers=kinds.count("linear_attention"),
        key_heads=t.linear_num_key_heads,
        value_heads=t.linear_num_value_heads,
        key_dim=t.linear_key_head_dim,
        value_dim=t.linear_value_head_dim,
        conv_kernel=t.linear_conv_kernel_dim,
    )
    return replace(text_shape(t), gated_query=True, linear=linear)


def architecture_shape(config, stock_side: int | None = None) -> ArchitectureShape:
    """Read an `ArchitectureShape` from the config of a supported family (PlaygroundError otherwise).

    Args:
        config: the model's config (e.g. `AutoConfig.from_pretrained(...)`).
        stock_side: stock frame side in px (default: the vision config's image_size).
    """
    from .families import family_for  # families.py builds on this module

    return family_for(config.model_type).architecture_shape(config, stock_side)


def stage_flops(
    shape: ArchitectureShape,
    gazed: bool,
    embedded_patches: int,
    sequences: Sequence[int],
    prompt_tokens: int,
    new_tokens: int,
) -> dict[str, int | None]:
    """Analytic FLOPs per stage of one answer.

    Args:
        shape: the model's sizes.
        gazed: the gazed path (else the stock one).
        embedded_patches: patches through the patch embedding (gazed: T x slots per frame).
        sequences: encoder attention sequence lengths (stock: one per frame; gazed: [N], or one per
            gazed frame with frame-independent attention).
        prompt_tokens: the LLM prompt length.
        new_tokens: generated tokens.

    Returns:
        {'gazer': None, 'vision_encoder', 'vision_attention', 'connector', 'llm_prefill', 'llm_decode', 'total'}.
    """
    vision = (
        shape.vision
        if not gazed
        else VisionShape(
            shape.vision.hidden,
            shape.vision.intermediate,
            shape.gazed_layers,
            shape.vision.patch,
            shape.vision.channels,
        )
    )
    total, attention = vision_flops(vision, embedded_patches, sequences)
    flops = {
        "gazer": None,
        "vision_encoder": total,
        "vision_attention": attention,
        "connector": linear_flops(sum(sequences), shape.connector),  # every encoded patch meets the connector
        "llm_prefill": llm_prefill_flops(shape.text, prompt_tokens),
        "llm_decode": llm_decode_flops(shape.text, prompt_tokens, new_tokens),
    }
    flops["total"] = sum(v for k, v in flops.items() if k != "vision_attention" and v is not None)
    return flops


def estimate_flops(
    config,
    num_frames: int,
    gaze=None,
    stock_side: int | None = None,
    text_tokens: int | None = None,
    new_tokens: int = 32,
    attention: str = "block_causal",
    pruned_to: int | None = None,
) -> dict[str, int | None]:
    """FLOPs per stage of a stock, gazed or post-ViT pruned answer, from the config alone (for models not loaded).

    Args:
        config: the config of a supported family (SmolVLM, LLaVA-OneVision).
        num_frames: T.
        gaze: a GazeResult on the model's gaze grid for the gazed path; None for the stock path.
        stock_side: stock frame side in px (default: the vision config's image_size).
        text_tokens: prompt tokens that are not vision tokens (default: a typical count for the
            family's video prompt, `Family.default_text_tokens`: 47 + 13 per frame for SmolVLM, 16 for LLaVA-OV).
        new_tokens: generated tokens.
        attention: the gazed encoder's attention mode (frame_independent attends per frame).
        pruned_to: with no gaze, post-ViT pruning (`pruning.py`) to this many LLM vision tokens: the stock
            encoder and connector, the LLM on these tokens (the gazed answer's `llm_vision_tokens`, for EVS
            at the gazed budget).

    Returns:
        The same dict as `Answer.flops`.
    """
    from .families import family_for  # families.py builds on this module

    family = family_for(config.model_type)
    shape = family.architecture_shape(config, stock_side)
    if text_tokens is None:
        text_tokens = family.default_text_tokens(num_frames)
    if gaze is None:
        embedded, sequences = family.stock_sequences(shape, num_frames)
        llm = family.stock_llm_tokens(shape, num_frames) if pruned_to is None else pruned_to
        return stage_flops(shape, False, embedded, sequences, text_tokens + llm, new_tokens)
    tokens = gazed_tokens(gaze)
    embedded, sequences = family.gazed_sequences(shape, tokens, attention)
    return stage_flops(
        shape, True, embedded, sequences, text_tokens + family.gazed_llm_tokens(shape, tokens), new_tokens
    )
