"""The gazed vision encoder: run a model's own ViT layers on the gazed multi-scale patches only.

Every scale of every frame is embedded by the model's own embedding module (so SmolVLM's NaViT
position bucketing and SigLIP's position interpolation are the model's, not re-derived here),
the scales are concatenated in the reference slot order (`geometry.py`: scales ascending,
row-major inside a scale), and the gazed slots are gathered into one sequence of N tokens, frame
by frame. The model's encoder layers then run on that sequence with one of three attention masks:

- `block_causal` (default, as AutoGaze's encoders do): a token sees its own frame and earlier frames;
- `frame_independent`: a token sees its own frame only (the stock per-frame encoder, on fewer tokens);
- `bidirectional`: every token sees every token.

The mask is built once per call as a (1, 1, N, N) boolean, turned once into its additive float
form, and shared by all layers and heads (broadcast, never copied per head).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from ..errors import PlaygroundError, check
from ..gaze import GazeResult
from ..geometry import MultiScaleGrid

ATTENTION_MODES = ("block_causal", "frame_independent", "bidirectional")


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


def encode_gazed(embeddings: torch.Tensor, tokens: GazedTokens, layers: Sequence[torch.nn.Module],
                 mode: str = "block_causal") -> torch.Tensor:
    """Run encoder layers on the gazed slots.

    Args:
        embeddings: (T, S, d) slot embeddings from `embed_slots`.
        tokens: which slots to keep (N of them).
        layers: the model's encoder layers, each called as `layer(hidden (1,N,d), mask)`.
        mode: the attention mode (ATTENTION_MODES).

    Returns:
        (N, d) hidden states after the last layer (no final norm).
    """
    T, S, d = embeddings.shape
    check(int(tokens.per_frame.numel()) == T, f"the gaze has {tokens.per_frame.numel()} frames, the video {T}")
    if tokens.num_tokens == 0:
        raise PlaygroundError("the gaze selects no patch at all: nothing to encode")
    index = (tokens.frame * S + tokens.slot).to(embeddings.device)
    hidden = embeddings.reshape(T * S, d).index_select(0, index)[None]  # (1, N, d)
    # Built once as bool, turned once into the additive form both kernels use: torch's SDPA would
    # otherwise convert a bool mask again in every layer, eager attention adds it to the scores.
    mask = additive_mask(attention_mask(tokens.frame.to(embeddings.device), mode), hidden.dtype)
    for layer in layers:
        hidden = layer(hidden, mask)
    return hidden[0]
