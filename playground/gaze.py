"""`GazeResult`: what every gazer returns, and its conversions to the reference format.

The layout follows the reference implementation: all frames' gazes are concatenated along N in
gaze order, every frame takes `num_gazing_each_frame[t]` entries (the same for every clip of a
batch), and entries a clip did not use are padding, flagged in `if_padded_gazing`. A padded entry
holds `num_slots * (t + 1)` (the reference's EOS id offset by the frame), but always test the flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np
import torch

from .errors import PlaygroundError, check
from .geometry import DEFAULT_GRID, MultiScaleGrid
from .jsonio import read_json

LOSS_KINDS = ("predicted", "measured", "none")


@dataclass
class GazeResult:
    """Selected multi-scale slots of a batch of clips.

    B = clips in the batch, T = frames, N = total entries (sum of num_gazing_each_frame),
    S = grid.num_slots.
    """

    gazing_pos: torch.Tensor  # (B, N) int64 global slot ids (S*t + local) in gaze order
    if_padded_gazing: torch.Tensor  # (B, N) bool, True where the entry is padding
    num_gazing_each_frame: torch.Tensor  # (T,) int64 entries per frame, padding included
    grid: MultiScaleGrid = DEFAULT_GRID  # the slot vocabulary the ids refer to
    loss: torch.Tensor | None = None  # (B, N) float32 loss after each entry (NaN where unknown or padded)
    frame_loss: torch.Tensor | None = None  # (B, T) float32 loss each frame ends at
    loss_kind: str = "none"  # 'predicted' (a model's head), 'measured' (a reconstructor) or 'none'
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage, e.g. {"gaze": 0.12}
    gazer: str = ""  # name of the gazer that produced this result
    settings: dict[str, Any] = field(default_factory=dict)  # knobs of the call (ratio, threshold, ...)

    def __post_init__(self) -> None:
        self.gazing_pos = _as_tensor(self.gazing_pos, torch.int64, "gazing_pos")
        self.if_padded_gazing = _as_tensor(self.if_padded_gazing, torch.bool, "if_padded_gazing")
        self.num_gazing_each_frame = _as_tensor(
            self.num_gazing_each_frame, torch.int64, "num_gazing_each_frame"
        ).reshape(-1)
        if self.gazing_pos.dim() == 1:
            self.gazing_pos = self.gazing_pos[None]
        if self.if_padded_gazing.dim() == 1:
            self.if_padded_gazing = self.if_padded_gazing[None]
        check(
            self.gazing_pos.shape == self.if_padded_gazing.shape,
            f"gazing_pos {tuple(self.gazing_pos.shape)} and if_padded_gazing "
            f"{tuple(self.if_padded_gazing.shape)} differ in shape",
        )
        check(
            int(self.num_gazing_each_frame.sum()) == self.gazing_pos.shape[1],
            f"num_gazing_each_frame sums to {int(self.num_gazing_each_frame.sum())} "
            f"but there are {self.gazing_pos.shape[1]} entries",
        )
        check(self.loss_kind in LOSS_KINDS, f"loss_kind must be one of {LOSS_KINDS}")
        check(bool((self.num_gazing_each_frame >= 0).all()), "num_gazing_each_frame must not be negative")
        self._check_ids()

    def _check_ids(self) -> None:
        """Every real entry of frame t is a slot of frame t, and no slot is gazed twice in a frame."""
        S, T = self.grid.num_slots, self.num_frames
        frame = self.frame_of_entry.to(self.gazing_pos.device)[None].expand_as(self.gazing_pos)
        real = ~self.if_padded_gazing
        local = self.gazing_pos - S * frame
        outside = real & ((local < 0) | (local >= S))
        if bool(outside.any()):
            b, n = (int(i) for i in torch.nonzero(outside)[0])
            raise PlaygroundError(
                f"gaze entry {n} of clip {b} holds id {int(self.gazing_pos[b, n])}, which is not a "
                f"slot of its frame {int(frame[b, n])} (ids of frame t lie in "
                f"[{S}*t, {S}*(t+1)) for {S} slots per frame)"
            )
        keys = torch.where(real, self.gazing_pos, -1 - torch.arange(self.gazing_pos.shape[1]))  # pads never collide
        ordered = keys.sort(dim=1).values
        repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
        if bool(repeated.any()):
            b, n = (int(i) for i in torch.nonzero(repeated)[0])
            slot = int(ordered[b, n + 1])
            raise PlaygroundError(
                f"clip {b} gazes slot {slot % S} of frame {slot // S} more than once; "
                f"each slot may be gazed once per frame"
            )
        check(T > 0 or self.gazing_pos.shape[1] == 0, "a gaze result needs at least one frame")

    # ---- sizes -------------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return self.gazing_pos.shape[0]

    @property
    def num_frames(self) -> int:
        return self.num_gazing_each_frame.numel()

    @property
    def frame_of_entry(self) -> torch.Tensor:
        """(N,) frame index of every entry."""
        return torch.repeat_interleave(torch.arange(self.num_frames), self.num_gazing_each_frame.cpu())

    # ---- the reference format ----------------------------------------------------------------
    def to_official(self) -> dict[str, torch.Tensor]:
        """The reference dict: gazing_pos (B,N) int64, if_padded_gazing (B,N) bool, num_gazing_each_frame (T,) int64."""
        return {
            "gazing_pos": self.gazing_pos.clone(),
            "if_padded_gazing": self.if_padded_gazing.clone(),
            "num_gazing_each_frame": self.num_gazing_each_frame.clone(),
        }

    @classmethod
    def from_official(cls, official: dict[str, Any], grid: MultiScaleGrid = DEFAULT_GRID, **extra) -> "GazeResult":
        """Build from the reference dict (tensors, arrays or nested lists)."""
        missing = {"gazing_pos", "if_padded_gazing", "num_gazing_each_frame"} - set(official)
        check(not missing, f"a gaze dict needs the keys {sorted(missing)}")
        return cls(
            official["gazing_pos"], official["if_padded_gazing"], official["num_gazing_each_frame"], grid=grid, **extra
        )

    @classmethod
    def from_frame_slots(
        cls,
        slots: Sequence[Sequence[Sequence[int]]],
        grid: MultiScaleGrid = DEFAULT_GRID,
        losses: Sequence[Sequence[Sequence[float]]] | None = None,
        **extra,
    ) -> "GazeResult":
        """Build from local slot ids per clip and frame: `slots[b][t]` lists frame t's ids in gaze order.

        Frames are padded to the longest clip, as the reference does for a batch. `losses[b][t]`, if
        given, holds the loss after each of those gazes.
        """
        B, T = len(slots), len(slots[0])
        check(B > 0 and T > 0, "a gaze result needs at least one clip and one frame")
        check(all(len(s) == T for s in slots), "every clip of a batch must have the same number of frames")
        per_frame = [max(len(slots[b][t]) for b in range(B)) for t in range(T)]
        N = sum(per_frame)
        pos = torch.empty(B, N, dtype=torch.int64)
        pad = torch.ones(B, N, dtype=torch.bool)
        loss = torch.full((B, N), float("nan")) if losses is not None else None
        start = 0
        for t, n in enumerate(per_frame):
            pos[:, start : start + n] = grid.num_slots * (t + 1)  # reference padding id
            for b in range(B):
                ids = list(slots[b][t])
                k = len(ids)
                pos[b, start : start + k] = torch.as_tensor(ids, dtype=torch.int64) + grid.num_slots * t
                pad[b, start : start + k] = False
                if loss is not None and k:
                    loss[b, start : start + k] = torch.as_tensor(list(losses[b][t]), dtype=torch.float32)
            start += n
        return cls(pos, pad, torch.tensor(per_frame), grid=grid, loss=loss, **extra)

    # ---- views -------------------------------------------------------------------------------
    def frame_slots(self, clip: int = 0, frame: int = 0) -> np.ndarray:
        """Local ids (n,) gazed in one frame of one clip, in gaze order, padding removed."""
        start = int(self.num_gazing_each_frame[:frame].sum())
        stop = start + int(self.num_gazing_each_frame[frame])
        ids = self.gazing_pos[clip, start:stop][~self.if_padded_gazing[clip, start:stop]]
        return (ids - self.grid.num_slots * frame).numpy()

    def slot_mask(self) -> torch.Tensor:
        """(B, T, S) bool: which slots of each frame were gazed."""
        B, T, S = self.batch_size, self.num_frames, self.grid.num_slots
        mask = torch.zeros(B, T * S + 1, dtype=torch.bool)
        ids = torch.where(self.if_padded_gazing, torch.full_like(self.gazing_pos, T * S), self.gazing_pos)
        check(bool(((ids >= 0) & (ids <= T * S)).all()), "gaze ids fall outside the video's slots")
        mask.scatter_(1, ids, True)
        return mask[:, :-1].reshape(B, T, S)

    def masks(self) -> list[torch.Tensor]:
        """Per-scale masks, ascending: a list of (B, T, n_s) bool (the reference's gazing_mask)."""
        return self.grid.split_scales(self.slot_mask())

    def counts(self) -> torch.Tensor:
        """(B, T) int64 gazed (non-padded) slots per frame."""
        return self.slot_mask().sum(-1)

    def counts_per_scale(self) -> torch.Tensor:
        """(B, T, num_scales) int64 gazed slots per frame and scale."""
        return torch.stack([m.sum(-1) for m in self.masks()], dim=-1)

    def ratio(self) -> torch.Tensor:
        """(B, T) float fraction of each frame's slots that were gazed."""
        return self.counts().float() / self.grid.num_slots

    @property
    def num_gazed(self) -> int:
        """Total gazed slots over the batch (the tokens a gazed ViT sees)."""
        return int((~self.if_padded_gazing).sum())

    @property
    def kept_fraction(self) -> float:
        """Gazed slots over all slots of the batch."""
        return self.num_gazed / (self.batch_size * self.num_frames * self.grid.num_slots)

    def clip(self, index: int) -> "GazeResult":
        """One clip of the batch, with its own (tighter) per-frame counts."""
        slots = [[self.frame_slots(index, t).tolist() for t in range(self.num_frames)]]
        losses = None
        if self.loss is not None:
            losses = [[self.frame_values(self.loss, index, t).tolist() for t in range(self.num_frames)]]
        frame_loss = None if self.frame_loss is None else self.frame_loss[index : index + 1].clone()
        return GazeResult.from_frame_slots(
            slots,
            self.grid,
            losses=losses,
            frame_loss=frame_loss,
            loss_kind=self.loss_kind,
            seconds=dict(self.seconds),
            gazer=self.gazer,
            settings=dict(self.settings),
        )

    def select(self, indices: Sequence[int] | slice) -> "GazeResult":
        """Some clips of the batch, as a batch (per-frame counts and padding kept as they are)."""
        index = torch.arange(self.batch_size)[indices] if isinstance(indices, slice) else torch.as_tensor(indices)
        check(index.numel() > 0, "select needs at least one clip")
        return replace(
            self,
            gazing_pos=self.gazing_pos[index],
            if_padded_gazing=self.if_padded_gazing[index],
            loss=None if self.loss is None else self.loss[index],
            frame_loss=None if self.frame_loss is None else self.frame_loss[index],
            seconds=dict(self.seconds),
            settings=dict(self.settings),
        )

    def frame_values(self, values: torch.Tensor, clip: int, frame: int) -> torch.Tensor:
        """Per-entry values (B, N) of one clip and frame, padding removed: (n,) in gaze order (e.g. the loss trace)."""
        start = int(self.num_gazing_each_frame[:frame].sum())
        stop = start + int(self.num_gazing_each_frame[frame])
        return values[clip, start:stop][~self.if_padded_gazing[clip, start:stop]]

    def with_frame_loss(self, frame_loss: torch.Tensor, loss_kind: str) -> "GazeResult":
        """A copy carrying a (B, T) per-frame loss (e.g. measured by a reconstructor)."""
        return replace(self, frame_loss=torch.as_tensor(frame_loss, dtype=torch.float32), loss_kind=loss_kind)

    # ---- (de)serialisation -------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The official dict as lists, plus per-frame stats and provenance (what `gaze.json` holds)."""
        out: dict[str, Any] = {k: v.tolist() for k, v in self.to_official().items()}
        out["scales"] = list(self.grid.scales)
        out["patch_size"] = self.grid.patch_size
        out["num_slots_per_frame"] = self.grid.num_slots
        out["gazed_per_frame"] = self.counts().tolist()
        out["gazed_per_frame_per_scale"] = self.counts_per_scale().tolist()
        out["loss_kind"] = self.loss_kind
        out["frame_loss"] = None if self.frame_loss is None else _nan_to_none(self.frame_loss.tolist())
        out["loss"] = None if self.loss is None else _nan_to_none(self.loss.tolist())
        out["gazer"] = self.gazer
        out["settings"] = self.settings
        out["seconds"] = self.seconds
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> "GazeResult":
        """Inverse of `to_json` (accepts the dict or a path to gaze.json)."""
        if isinstance(data, str):
            data = read_json(data, "gaze file")
        grid = MultiScaleGrid(tuple(data.get("scales", DEFAULT_GRID.scales)), int(data.get("patch_size", 16)))
        loss = data.get("loss")
        frame_loss = data.get("frame_loss")
        return cls.from_official(
            data,
            grid,
            loss=None if loss is None else torch.tensor(_none_to_nan(loss), dtype=torch.float32),
            frame_loss=None if frame_loss is None else torch.tensor(_none_to_nan(frame_loss), dtype=torch.float32),
            loss_kind=data.get("loss_kind", "none"),
            gazer=data.get("gazer", ""),
            settings=data.get("settings", {}),
            seconds=data.get("seconds", {}),
        )

    def summary(self) -> str:
        """One line: slots kept, ratio, loss if known, time."""
        kept = self.num_gazed
        total = self.batch_size * self.num_frames * self.grid.num_slots
        line = f"{self.gazer or 'gaze'}: {kept}/{total} slots kept ({100 * kept / total:.1f}%)"
        if self.frame_loss is not None:
            line += f", mean {self.loss_kind} loss {float(torch.nanmean(self.frame_loss)):.4f}"
        if "gaze" in self.seconds:
            line += f", {self.seconds['gaze']:.3f} s"
        return line


def concat_frames(results: Sequence[GazeResult]) -> GazeResult:
    """Join consecutive results in time (e.g. what `stream` yields, or 16-frame chunks) into one.

    Each result's ids count frames from its own first frame; they are shifted to the joined video.
    """
    check(len(results) > 0, "nothing to concatenate")
    grid = results[0].grid
    B = results[0].batch_size
    pos, pad, counts, losses, frame_losses = [], [], [], [], []
    t = 0
    for r in results:
        check(r.grid == grid and r.batch_size == B, "results to concatenate must share grid and batch size")
        pos.append(r.gazing_pos + t * grid.num_slots)  # r's ids count frames from its own first frame
        pad.append(r.if_padded_gazing)
        counts.append(r.num_gazing_each_frame)
        losses.append(r.loss if r.loss is not None else torch.full(r.gazing_pos.shape, float("nan")))
        frame_losses.append(r.frame_loss if r.frame_loss is not None else torch.full((B, r.num_frames), float("nan")))
        t += r.num_frames
    has_loss = any(r.loss is not None for r in results)
    has_frame_loss = any(r.frame_loss is not None for r in results)
    seconds: dict[str, float] = {}
    for r in results:
        for k, v in r.seconds.items():
            seconds[k] = seconds.get(k, 0.0) + v
    return GazeResult(
        torch.cat(pos, 1),
        torch.cat(pad, 1),
        torch.cat(counts),
        grid=grid,
        loss=torch.cat(losses, 1) if has_loss else None,
        frame_loss=torch.cat(frame_losses, 1) if has_frame_loss else None,
        loss_kind=results[0].loss_kind,
        seconds=seconds,
        gazer=results[0].gazer,
        settings=dict(results[0].settings),
    )


def as_gaze_result(gaze: "GazeResult | dict[str, Any]", grid: MultiScaleGrid = DEFAULT_GRID) -> GazeResult:
    """Accept a `GazeResult` or the official dict wherever a gaze is an input."""
    if isinstance(gaze, GazeResult):
        return gaze
    if isinstance(gaze, dict):
        return GazeResult.from_official(gaze, grid)
    raise PlaygroundError(f"expected a GazeResult or the official gaze dict, got {type(gaze).__name__}")


def _as_tensor(values: Any, dtype: torch.dtype, name: str) -> torch.Tensor:
    """`values` as a tensor of `dtype`, or one line naming the field when they are not numbers."""
    if isinstance(values, torch.Tensor):
        check(
            not values.is_floating_point() or dtype == torch.bool or bool((values == values.round()).all()),
            f"{name} must hold whole numbers",
        )
        return values.to(dtype)
    try:
        array = np.asarray(values)
    except ValueError as exc:  # ragged nested lists
        raise PlaygroundError(f"{name} must be a rectangular array of numbers: {exc}") from None
    check(
        array.dtype.kind in "biu" or (array.dtype.kind == "f" and bool(np.all(array == np.round(array)))),
        f"{name} must hold whole numbers, got {array.dtype.name} values such as {array.flat[0]!r}"
        if array.size
        else f"{name} must hold whole numbers",
    )
    return torch.as_tensor(array).to(dtype)


def _nan_to_none(values):
    if isinstance(values, list):
        return [_nan_to_none(v) for v in values]
    return None if values != values else values


def _none_to_nan(values):
    if isinstance(values, list):
        return [_none_to_nan(v) for v in values]
    return float("nan") if values is None else values
