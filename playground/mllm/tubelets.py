"""Qwen-VL's token layout for gazed patches: temporal tubelets and 2x2 merge groups.

Qwen-VL's vision tower embeds a *tubelet* of `temporal` (2) consecutive frames as one patch (a
Conv3d), and its merger folds each `merge` x `merge` (2 x 2) group of encoded patches into one LLM
token. A gaze picks slots per frame and per scale, so the gazed path meets the model halfway:

- a tubelet keeps the union of its frames' gazed slots (the last tubelet of an odd clip repeats its
  last frame, as the model's video processor pads it, so it keeps that frame's slots);
- every gazed slot is expanded to its whole merge group on its scale's patch grid, so the merger
  sees the 2 x 2 layout it was trained on; the extra patches are encoded and counted.

`TubeletLayout` holds the kept merge groups, per scale, of every tubelet, and the one token order
both the encoder and the LLM use: tubelet, then scale (coarsest first), then merge group (row-major
on that scale's group grid), then, in the encoder only, the member patch (row-major inside the
group). With one scale and every group kept this is exactly the model's own order (its video
processor's patchify and its merger), which is what makes the stock and gazed paths comparable.
No model is needed here: the layout is a function of the gaze, `temporal` and `merge`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import check
from ..geometry import MultiScaleGrid
from .gazed_vit import GazedTokens


@dataclass
class TubeletLayout:
    """The kept merge groups of a clip. T' = tubelets, S = scales, (h_s, w_s) = scale s's patch grid."""

    grid: MultiScaleGrid  # the slot vocabulary (scales ascending)
    num_frames: int  # T, the clip's frames
    temporal: int  # frames per tubelet
    merge: int  # patches per merge group side
    groups: list[torch.Tensor]  # per scale: (T', h_s / merge, w_s / merge) bool, True = kept
    whole_runs: bool = False  # True: every (tubelet, scale) keeps its prompt run, kept groups or not (post-ViT pruning)

    @property
    def num_tubelets(self) -> int:
        return -(-self.num_frames // self.temporal)

    @property
    def runs(self) -> torch.Tensor:
        """(T', S) int64: kept merge groups (= LLM tokens) of each scale of each tubelet."""
        return torch.stack([g.flatten(1).sum(1) for g in self.groups], dim=1)

    @property
    def per_tubelet_tokens(self) -> list[int]:
        """LLM tokens of each tubelet."""
        return self.runs.sum(1).tolist()

    @property
    def per_tubelet_patches(self) -> list[int]:
        """Encoded patches of each tubelet (merge^2 per kept group)."""
        return [n * self.merge**2 for n in self.per_tubelet_tokens]

    def group_order(self) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Where each kept group sits in its scale and in the token order.

        Returns:
            per scale, (G_s,) int64 flat indices of its kept groups in its (T', h_s/m, w_s/m) grid,
            ascending; and (G,) int64, the permutation that takes the scales' kept groups, concatenated
            scale by scale, to the token order (tubelet, scale, group).
        """
        flat = [torch.nonzero(g.flatten(), as_tuple=True)[0] for g in self.groups]
        widest = max(int(g[0].numel()) for g in self.groups)
        keys = [
            (idx // g[0].numel() * len(self.groups) + s) * widest + idx % g[0].numel()
            for s, (idx, g) in enumerate(zip(flat, self.groups))
        ]
        return flat, torch.argsort(torch.cat(keys))

    def patch_order(self) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """The encoder's patches: per scale, (P_s,) rows of the model's patchified scale (tubelet, group
        row, group column, member row, member column) that are kept; the permutation (P,) taking those,
        concatenated scale by scale, to the token order; and (P,) the tubelet of each patch in token order."""
        unit = self.merge**2
        flat, order = self.group_order()
        member = torch.arange(unit)
        rows = [(idx[:, None] * unit + member).flatten() for idx in flat]
        patches = (order[:, None] * unit + member).flatten()
        tubelet = torch.cat([idx // g[0].numel() for idx, g in zip(flat, self.groups)])[order]
        return rows, patches, tubelet.repeat_interleave(unit)

    def prompt_runs(self) -> list[list[tuple[int, int]]]:
        """Per tubelet, the vision runs of the prompt: (scale, groups of the whole scale) for each scale
        with a kept group, coarsest first. A scale with nothing kept has no run (and no start/end tokens),
        so a gaze of the finest scale alone lays the prompt out exactly as the stock path does (with
        `whole_runs`, every scale of every tubelet has its run: the stock prompt, for post-ViT pruning)."""
        present = self.runs > 0
        if self.whole_runs:
            present = torch.ones_like(present)
        return [
            [(s, int(g[t].numel())) for s, g in enumerate(self.groups) if present[t, s]]
            for t in range(self.num_tubelets)
        ]

    def prompt_keep(self) -> torch.Tensor:
        """(sum of the `prompt_runs` sizes,) bool: which tokens of the prompt's whole runs are kept."""
        kept = [self.groups[s][t].flatten() for t, runs in enumerate(self.prompt_runs()) for s, _ in runs]
        return torch.cat(kept) if kept else torch.zeros(0, dtype=torch.bool)


def tubelet_layout(tokens: GazedTokens, temporal: int, merge: int) -> TubeletLayout:
    """The kept merge groups of a gaze: each tubelet's union of its frames' slots, each slot widened to its group.

    Args:
        tokens: the gazed slots of one clip (T frames).
        temporal: frames per tubelet (Qwen-VL: 2).
        merge: the merger's group side (Qwen-VL: 2); every scale's side must be a multiple.
    """
    grid = tokens.grid
    check(
        all(side % merge == 0 for side in grid.sides),
        f"the gaze grid {grid.describe()} has a scale whose side is not a multiple of the {merge}x{merge} merge",
    )
    T = int(tokens.per_frame.numel())
    tubelets = -(-T // temporal)
    groups = []
    for s, side in enumerate(grid.sides):
        mask = torch.zeros(tubelets, side // merge, side // merge, dtype=torch.bool)
        on = tokens.scale == s
        mask[tokens.frame[on] // temporal, tokens.row[on] // merge, tokens.col[on] // merge] = True
        groups.append(mask)
    return TubeletLayout(grid, T, temporal, merge, groups)


def full_layout(grid: MultiScaleGrid, num_frames: int, temporal: int, merge: int) -> TubeletLayout:
    """Every group of every scale of every tubelet kept (the stock path's layout when `grid` is one scale)."""
    tubelets = -(-num_frames // temporal)
    groups = [torch.ones(tubelets, side // merge, side // merge, dtype=torch.bool) for side in grid.sides]
    return TubeletLayout(grid, num_frames, temporal, merge, groups)
