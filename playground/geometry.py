"""Multi-scale patch geometry: the slot vocabulary AutoGaze gazes over.

A frame is seen at several scales (default 32/64/112/224 px, patch 16), each cut into a
row-major grid of patches. Each patch is a *slot*. Slots are numbered as the reference does:
scales in ascending order, row-major inside each scale, so the default grid has
4 + 16 + 49 + 196 = 265 slots per frame, and a slot of frame t has the global id
`265 * t + local_id`.

A slot at scale s covers a square of `canvas / (s / patch)` pixels of the full-resolution canvas
(the largest scale), which is what overlays, masks and coverage maps use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np
import torch

from .errors import PlaygroundError, check

DEFAULT_SCALES = (32, 64, 112, 224)
DEFAULT_PATCH_SIZE = 16


class Slot(NamedTuple):
    """One multi-scale patch, located in a video."""

    frame: int  # frame index t
    scale_index: int  # index into grid.scales (0 = coarsest)
    row: int  # row in that scale's grid
    col: int  # column in that scale's grid
    box: tuple[int, int, int, int]  # (y0, x0, y1, x1) in canvas pixels, end-exclusive


@dataclass(frozen=True)
class MultiScaleGrid:
    """The slot layout of one frame for a set of target scales and a patch size.

    Args:
        scales: target side lengths in pixels; sorted ascending, each a multiple of patch_size.
        patch_size: side of one patch in pixels at its own scale.
    """

    scales: tuple[int, ...] = DEFAULT_SCALES
    patch_size: int = DEFAULT_PATCH_SIZE
    sides: tuple[int, ...] = field(init=False)  # (S,) patches per side at each scale
    counts: tuple[int, ...] = field(init=False)  # (S,) slots at each scale
    offsets: tuple[int, ...] = field(init=False)  # (S+1,) first local id of each scale, then total

    def __post_init__(self) -> None:
        scales = tuple(sorted(int(s) for s in self.scales))
        check(len(scales) > 0, "a grid needs at least one scale")
        check(self.patch_size > 0, f"patch size must be positive, got {self.patch_size}")
        for s in scales:
            check(
                s > 0 and s % self.patch_size == 0,
                f"scale {s} is not a positive multiple of the patch size {self.patch_size}",
            )
        check(len(set(scales)) == len(scales), f"scales must be distinct, got {list(scales)}")
        sides = tuple(s // self.patch_size for s in scales)
        counts = tuple(n * n for n in sides)
        object.__setattr__(self, "scales", scales)
        object.__setattr__(self, "sides", sides)
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "offsets", tuple(int(x) for x in np.concatenate([[0], np.cumsum(counts)])))

    # ---- sizes -------------------------------------------------------------------------------
    @property
    def num_slots(self) -> int:
        """Slots per frame (265 for the default grid)."""
        return self.offsets[-1]

    @property
    def num_scales(self) -> int:
        return len(self.scales)

    @property
    def canvas(self) -> int:
        """Side of the full-resolution canvas in pixels (the largest scale)."""
        return self.scales[-1]

    @property
    def finest_slots(self) -> np.ndarray:
        """(n_finest,) local ids of the finest-scale slots: the no-gazing baseline."""
        return np.arange(self.offsets[-2], self.offsets[-1])

    def scale_slice(self, scale_index: int) -> slice:
        """The local ids of one scale, as a slice of a (num_slots,) vector."""
        return slice(self.offsets[scale_index], self.offsets[scale_index + 1])

    def box_size(self, scale_index: int) -> float:
        """Side of one slot of this scale in canvas pixels (may be fractional, e.g. 32 for 112)."""
        return self.canvas / self.sides[scale_index]

    # ---- id conversions (vectorised) ---------------------------------------------------------
    def split_local(self, local_ids: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Local ids (any shape) -> (scale_index, row, col) arrays of the same shape."""
        ids = np.asarray(local_ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_slots):
            raise PlaygroundError(f"slot ids must lie in [0, {self.num_slots}), got {ids.min()}..{ids.max()}")
        scale = np.searchsorted(np.asarray(self.offsets[1:]), ids, side="right")
        within = ids - np.asarray(self.offsets)[scale]
        sides = np.asarray(self.sides)[scale]
        return scale, within // sides, within % sides

    def join_local(self, scale_index, row, col) -> np.ndarray:
        """(scale_index, row, col) arrays -> local ids."""
        scale_index, row, col = (np.asarray(a, dtype=np.int64) for a in (scale_index, row, col))
        sides = np.asarray(self.sides)[scale_index]
        check(
            bool(np.all((row >= 0) & (row < sides) & (col >= 0) & (col < sides))),
            "row/col outside the grid of their scale",
        )
        return np.asarray(self.offsets)[scale_index] + row * sides + col

    def to_global(self, frame, local_ids) -> np.ndarray:
        """(frame, local id) -> global id `num_slots * frame + local`."""
        return np.asarray(frame, dtype=np.int64) * self.num_slots + np.asarray(local_ids, dtype=np.int64)

    def from_global(self, global_ids) -> tuple[np.ndarray, np.ndarray]:
        """Global ids -> (frame, local id)."""
        ids = np.asarray(global_ids, dtype=np.int64)
        return ids // self.num_slots, ids % self.num_slots

    def boxes(self, local_ids) -> np.ndarray:
        """Local ids (N,) -> (N, 4) integer (y0, x0, y1, x1) canvas boxes, end-exclusive.

        Box edges are rounded so that the boxes of one scale tile the canvas exactly.
        """
        scale, row, col = self.split_local(np.atleast_1d(local_ids))
        step = self.canvas / np.asarray(self.sides)[scale]
        y0, x0 = np.round(row * step), np.round(col * step)
        y1, x1 = np.round((row + 1) * step), np.round((col + 1) * step)
        return np.stack([y0, x0, y1, x1], axis=-1).astype(np.int64)

    def slot(self, global_id: int) -> Slot:
        """One global id -> its `Slot` (frame, scale, row, col, pixel box)."""
        frame, local = self.from_global(global_id)
        scale, row, col = self.split_local(local)
        box = tuple(int(v) for v in self.boxes(local)[0])
        return Slot(int(frame), int(scale), int(row), int(col), box)

    # ---- masks and coverage ------------------------------------------------------------------
    def split_scales(self, slot_mask: torch.Tensor) -> list[torch.Tensor]:
        """(..., num_slots) -> list of (..., n_s) per scale, ascending (the reference's gazing_mask)."""
        return list(torch.split(slot_mask, list(self.counts), dim=-1))

    def scale_maps(self, slot_mask: torch.Tensor) -> list[torch.Tensor]:
        """(..., num_slots) -> list of (..., side_s, side_s) per-scale 2-D masks."""
        return [m.reshape(*m.shape[:-1], n, n) for m, n in zip(self.split_scales(slot_mask), self.sides)]

    def coverage(self, slot_mask: torch.Tensor, size: int | None = None) -> torch.Tensor:
        """(..., num_slots) bool -> (..., S, size, size) per-scale pixel coverage at `size` (default canvas)."""
        size = size or self.canvas
        mask = torch.as_tensor(slot_mask).bool()
        return torch.stack([self.covered(mask, s, size, size) for s in range(self.num_scales)], dim=-3)

    def finest_scale_map(
        self, slot_mask: torch.Tensor, height: int | None = None, width: int | None = None
    ) -> torch.Tensor:
        """The finest gazed scale at each pixel: the one map the reconstructors, overlays and tiles use.

        Args:
            slot_mask: (..., num_slots) bool, which slots were gazed.
            height, width: the picture's size H, W (default: the canvas); the canvas is squashed onto
                it, each pixel taking the cell under its centre (the rounding of `boxes`).

        Returns:
            (..., H, W) int64 index of the finest gazed scale per pixel, -1 where none.
        """
        mask = torch.as_tensor(slot_mask).bool()
        height, width = height or self.canvas, width or self.canvas
        finest = torch.full((*mask.shape[:-1], height, width), -1, dtype=torch.long, device=mask.device)
        for s in range(self.num_scales):  # coarse first, so finer scales overwrite
            finest[self.covered(mask, s, height, width)] = s
        return finest

    def cell_index(self, length: int, scale_index: int) -> np.ndarray:
        """(length,) row (or column) of scale `scale_index`'s cell under each of `length` pixels (canvas squashed on)."""
        side = self.sides[scale_index]
        canvas_pos = np.minimum(((np.arange(length) + 0.5) * self.canvas / length).astype(np.int64), self.canvas - 1)
        edges = np.round(np.arange(side + 1) * self.canvas / side)
        return np.searchsorted(edges, canvas_pos, side="right") - 1

    def covered(self, mask: torch.Tensor, s: int, height: int, width: int) -> torch.Tensor:
        """(..., num_slots) bool -> (..., H, W) bool: the pixels under a gazed slot of scale s."""
        side = self.sides[s]
        cells = mask[..., self.scale_slice(s)].reshape(*mask.shape[:-1], side, side)
        rows = torch.as_tensor(self.cell_index(height, s), device=mask.device)
        cols = torch.as_tensor(self.cell_index(width, s), device=mask.device)
        return cells.index_select(-2, rows).index_select(-1, cols)

    def describe(self) -> str:
        parts = "+".join(str(c) for c in self.counts)
        return f"scales {'/'.join(map(str, self.scales))} at patch {self.patch_size}: {parts} = {self.num_slots} slots per frame"


DEFAULT_GRID = MultiScaleGrid()


def grid_for(scales: Sequence[int] | str | None = None, patch_size: int | None = None) -> MultiScaleGrid:
    """Build a grid from user knobs; accepts '32+64+112+224' strings as in the AutoGaze config."""
    if scales is None and patch_size is None:
        return DEFAULT_GRID
    if isinstance(scales, str):
        try:
            scales = [int(s) for s in scales.replace(",", "+").split("+") if s.strip()]
        except ValueError as exc:
            raise PlaygroundError(f"scales must look like '32+64+112+224', got {scales!r}") from exc
    return MultiScaleGrid(tuple(scales or DEFAULT_SCALES), int(patch_size or DEFAULT_PATCH_SIZE))
