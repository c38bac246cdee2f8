"""Connectors for gazed tokens: SmolVLM's pixel shuffle as an exact sparse scatter-add.

SmolVLM's connector folds each r x r group of patch features (r = `scale_factor`) into one vector,
member (i, j) of the group at offset `(i * r + j) * d`, and projects it with one bias-free linear
layer W (D x r^2 d). Because there is no bias, the projection of a group is a sum over its members:
`W g = sum_ij W_ij h_ij`. Gazed patches therefore add their own term into their group's token, and
a group whose members were not all gazed still makes one token (the missing members count as zero).
When every member is gazed the result equals the stock connector up to float summation order.

Groups are formed per frame and per scale on that scale's patch grid; a grid whose side is not a
multiple of r gets partial groups at its bottom and right edges.
"""

from __future__ import annotations

import torch

from .gazed_vit import GazedTokens


def pixel_shuffle_groups(tokens: GazedTokens, factor: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Assign each gazed patch to its connector token.

    Args:
        tokens: N gazed patches.
        factor: the pixel-shuffle factor r.

    Returns:
        group (N,) int64 output token of each patch (tokens ordered by frame, scale, group row, column),
        member (N,) int64 position i * r + j of the patch inside its group,
        per_frame (T,) int64 connector tokens of each frame.
    """
    grid = tokens.grid
    groups_side = max(-(-n // factor) for n in grid.sides)  # ceil, the widest scale's group grid
    key = (
        (tokens.frame * grid.num_scales + tokens.scale) * groups_side + tokens.row // factor
    ) * groups_side + tokens.col // factor
    unique, group = torch.unique(key, sorted=True, return_inverse=True)
    frame_of_group = unique // (grid.num_scales * groups_side * groups_side)
    per_frame = torch.bincount(frame_of_group, minlength=int(tokens.per_frame.numel()))
    member = (tokens.row % factor) * factor + tokens.col % factor
    return group, member, per_frame


def sparse_pixel_shuffle(
    features: torch.Tensor,
    weight: torch.Tensor,
    group: torch.Tensor,
    member: torch.Tensor,
    num_groups: int,
    factor: int,
) -> torch.Tensor:
    """Project gazed patch features with the pixel-shuffle connector's weight, group by group.

    Args:
        features: (N, d) encoder outputs of the gazed patches.
        weight: (D, r*r*d) the connector's linear weight (no bias).
        group: (N,) output token of each patch (from `pixel_shuffle_groups`).
        member: (N,) position of each patch inside its group.
        num_groups: number of output tokens M.
        factor: r.

    Returns:
        (M, D) connector tokens.
    """
    d, D = features.shape[1], weight.shape[0]
    blocks = weight.view(D, factor * factor, d).transpose(0, 1)  # (r*r, D, d): block j maps member j
    out = torch.zeros(num_groups, D, dtype=features.dtype, device=features.device)
    member = member.to(features.device)
    order = torch.argsort(member, stable=True)  # one contiguous segment of patches per member position
    feats, groups = features.index_select(0, order), group.to(features.device).index_select(0, order)
    start = 0
    for j, count in enumerate(torch.bincount(member, minlength=factor * factor).tolist()):
        if count:
            segment = slice(start, start + count)
            out.index_add_(0, groups[segment], torch.nn.functional.linear(feats[segment], blocks[j]))
        start += count
    return out
