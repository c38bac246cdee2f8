"""The gazed vision encoder: run a model's own ViT layers on the gazed multi-scale patches only.

Every scale of every frame is embedded by the model's own embedding module (so SmolVLM's NaViT
position bucketing and SigLIP's position interpolation are the model's, not re-derived here),
the scales are concatenated in the reference slot order (`geometry.py`: scales ascending,
row-major inside a scale), and the gazed slots are gathered into one sequence of N tokens, frame
by frame. The model's encoder layers then run on those tokens in one of three attention modes:

- `block_causal` (default, as AutoGaze's encoders do): a token sees its own frame and earlier frames;
- `frame_independent`: a token sees its own frame only (the stock per-frame encoder, on fewer tokens);
- `bidirectional`: every token sees every token.

`block_causal` and `bidirectional` run one sequence of N tokens; the block-causal mask is built
once per call as a (1, 1, N, N) boolean, turned once into its additive float form, and shared by
all layers and heads (broadcast, never copied per head). SDPA computes the whole N x N score
matrix whatever the mask, so these modes cost N^2 attention.

`frame_independent` computes per frame instead: frames with the same gazed-token count n are
batched as (G, n, d) and run through the layers unmasked, one batch per distinct count, so no
compute goes to other frames' keys or to padding (attention costs the sum of n_t^2 over frames).
The output keeps the encoder order (frame, then slot id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from ..errors import PlaygroundError, check
from ..gaze import GazeResult
from ..geometry import MultiScaleGrid
from ..knobs import ATTENTION_MODES


@dataclass
class GazedTokens:
    """The gazed slots of one clip, in encoder order (frame, then slot id). N = gazed slots."""

    frame: torch.Tensor  # (N,) int64 frame index t
    slot: torch.Tensor  # (N,) int64 local slot id in the grid
    scale: torch.Tensor  # (N,) int64 scale index (0 = coarsest)
    row: torch.Tensor  # (N,) int64 row in that scale's patch grid
    col: torch.Tensor  # (N,) int64 column in that scale's patch grid
    per_frame: torch.Tensor  # (T,) int64 gazed slots of each frame
    grid: MultiScaleGrid  # the slot vocabulary

    @property
    def num_tokens(self) -> int:
        return int(self.frame.numel())


def gazed_tokens(gaze: GazeResult, clip: int = 0) -> GazedTokens:
    """The gazed slots of one clip of `gaze`, ordered by frame and slot id (padding dropped).

    Args:
        gaze: a GazeResult (B clips, T frames).
        clip: which clip of the batch.

    Returns:
        GazedTokens with N = the clip's gazed slots.
    """
    check(0 <= clip < gaze.batch_size, f"clip {clip} is not in a batch of {gaze.batch_size}")
    mask = gaze.slot_mask()[clip]  # (T, S) bool
    frame, slot = torch.nonzero(mask, as_tuple=True)
    scale, row, col = (torch.as_tensor(a, dtype=torch.int64) for a in gaze.grid.split_local(slot.numpy()))
    return GazedTokens(frame, slot, scale, row, col, mask.sum(1), gaze.grid)


def attention_mask(frame: torch.Tensor, mode: str) -> torch.Tensor | None:
    """The encoder mask over N tokens: (1, 1, N, N) bool, True where query may attend key; None = all.

    Args:
        frame: (N,) frame index of each token, non-decreasing.
        mode: one of ATTENTION_MODES.
    """
    check(mode in ATTENTION_MODES, f"attention must be one of {ATTENTION_MODES}, got {mode!r}")
    if mode == "bidirectional":
        return None
    q, k = frame[:, None], frame[None, :]
    allowed = (k <= q) if mode == "block_causal" else (k == q)
    return allowed[None, None]


def additive_mask(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """Bool (1,1,N,N) -> additive float (1,1,N,N): 0 where allowed, dtype's min elsewhere (sdpa and eager)."""
    if mask is None:
        return None
    zero = torch.zeros((), dtype=dtype, device=mask.device)
    return torch.where(mask, zero, torch.finfo(dtype).min)


def embed_slots(embed_scale: Callable[[int], torch.Tensor], grid: MultiScaleGrid) -> torch.Tensor:
    """Per-scale patch embeddings of every frame, concatenated in slot order.

    Args:
        embed_scale: scale side in px -> (T, n_s, d) embeddings of every patch at that scale,
            row-major (the model's own embedding module on the frames resized to that side).
        grid: the slot vocabulary.

    Returns:
        (T, S, d) embeddings, S = grid.num_slots.
    """
    per_scale = []
    for side_px, n in zip(grid.scales, grid.counts):
        emb = embed_scale(side_px)
        check(emb.shape[1] == n, f"scale {side_px}px embedded to {emb.shape[1]} patches, expected {n}")
        per_scale.append(emb)
    return torch.cat(per_scale, dim=1)


def attention_sequences(per_frame: torch.Tensor, mode: str) -> list[int]:
    """Lengths of the attention sequences `encode_gazed` runs (what FLOPs are counted on).

    Args:
        per_frame: (T,) gazed tokens of each frame.
        mode: one of ATTENTION_MODES.

    Returns:
        frame_independent: one length per frame that has gazed tokens; otherwise [N].
    """
    check(mode in ATTENTION_MODES, f"attention must be one of {ATTENTION_MODES}, got {mode!r}")
    counts = [int(n) for n in per_frame.tolist()]
    return [n for n in counts if n > 0] if mode == "frame_independent" else [sum(counts)]


def frame_groups(per_frame: torch.Tensor) -> list[torch.Tensor]:
    """Positions of the tokens of frames with equal gazed counts, one (G, n) tensor per distinct n > 0.

    Args:
        per_frame: (T,) gazed tokens of each frame; tokens are laid out frame by frame.

    Returns:
        For each distinct count n (ascending), (G, n) int64 positions in the (N,) token order, one
        row per frame with n tokens (frames ascending).
    """
    starts = torch.cumsum(per_frame, 0) - per_frame
    groups = []
    for n in torch.unique(per_frame).tolist():
        if n > 0:
            frames = torch.nonzero(per_frame == n, as_tuple=True)[0]
            groups.append(starts[frames, None] + torch.arange(n))
    return groups


def encode_gazed(
    embeddings: torch.Tensor, tokens: GazedTokens, layers: Sequence[torch.nn.Module], mode: str = "block_causal"
) -> torch.Tensor:
    """Run encoder layers on the gazed slots.

    Args:
        embeddings: (T, S, d) slot embeddings from `embed_slots`.
        tokens: which slots to keep (N of them).
        layers: the model's encoder layers, each called as `layer(hidden (B, n, d), mask)`.
        mode: the attention mode (ATTENTION_MODES).

    Returns:
        (N, d) hidden states after the last layer (no final norm), in token order (frame, slot id).
    """
    T, S, d = embeddings.shape
    check(mode in ATTENTION_MODES, f"attention must be one of {ATTENTION_MODES}, got {mode!r}")
    check(int(tokens.per_frame.numel()) == T, f"the gaze has {tokens.per_frame.numel()} frames, the video {T}")
    if tokens.num_tokens == 0:
        raise PlaygroundError("the gaze selects no patch at all: nothing to encode")
    index = (tokens.frame * S + tokens.slot).to(embeddings.device)
    hidden = embeddings.reshape(T * S, d).index_select(0, index)  # (N, d)
    if mode == "frame_independent":
        return _encode_per_frame(hidden, tokens.per_frame, layers)
    # Built once as bool, turned once into the additive form both kernels use: torch's SDPA would
    # otherwise convert a bool mask again in every layer, eager attention adds it to the scores.
    mask = additive_mask(attention_mask(tokens.frame.to(embeddings.device), mode), hidden.dtype)
    hidden = hidden[None]  # (1, N, d)
    for layer in layers:
        hidden = layer(hidden, mask)
    return hidden[0]


def _encode_per_frame(hidden: torch.Tensor, per_frame: torch.Tensor, layers: Sequence[torch.nn.Module]) -> torch.Tensor:
    """(N, d) tokens laid out frame by frame -> (N, d) encoded, each frame attending to itself only.

    Frames of equal length form one unmasked (G, n, d) batch: no padding and no cross-frame scores
    are computed, at the price of one layer call per distinct length.
    """
    out = torch.empty_like(hidden)
    for positions in frame_groups(per_frame.cpu()):
        flat = positions.reshape(-1).to(hidden.device)
        batch = hidden.index_select(0, flat).reshape(*positions.shape, hidden.shape[-1])  # (G, n, d)
        for layer in layers:
            batch = layer(batch, None)
        out[flat] = batch.reshape(-1, hidden.shape[-1])
    return out
