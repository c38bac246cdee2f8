"""The `Gazer` interface shared by the training-free gazers and AutoGaze.

A gazer is stateful only in its weights; each `gaze` call is independent. `stream` is a generator
that yields one `GazeResult` per frame (ids local to that frame), in the shape of SAM 2's
`propagate_in_video`, so that the app and notebooks can show progress frame by frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from .. import knobs
from ..calibration import UNCALIBRATED
from ..device import cpu_threads, resolve_device
from ..errors import check
from ..gaze import GazeResult, concat_frames
from ..geometry import DEFAULT_GRID, MultiScaleGrid
from ..knobs import CLIP_LEN
from ..painting import blank_canvas
from ..video import as_clips, frame_source
from ..whole_video import VideoGaze, VideoGazer


def frame_budgets(gazing_ratio: float | Sequence[float] | None, num_frames: int, num_slots: int) -> list[int]:
    """Per-frame slot caps, computed as the reference does: int64(float32(ratio) * S), at least 1."""
    if gazing_ratio is None:
        return [num_slots] * num_frames
    ratios = [gazing_ratio] * num_frames if np.isscalar(gazing_ratio) else list(gazing_ratio)
    check(len(ratios) == num_frames, f"gazing_ratio has {len(ratios)} entries but the clip has {num_frames} frames")
    return [max(1, int(np.float32(knobs.gazing_ratio(r)) * np.float32(num_slots))) for r in ratios]


def check_threshold(task_loss_requirement: float | None) -> float | None:
    """Validate the error threshold knob (None = no threshold)."""
    return knobs.threshold(task_loss_requirement, "task_loss_requirement")


class Gazer:
    """Base class: picks multi-scale slots per frame.

    Subclasses implement `_gaze_clips` (a whole batch at once) and may override `stream`.
    """

    name: str = "gazer"
    loss_kind: str = "none"
    # What the threshold (task_loss_requirement) means to this gazer: "loss" (the per-frame
    # reconstruction loss it stops at, measured or predicted), "change" (a per-patch change, on its
    # own scale) or None (it ignores the threshold; only the budget decides).
    threshold_unit: str | None = "loss"
    uses_budget: bool = True  # whether gazing_ratio caps what it keeps (`full` keeps every finest patch)
    # The reconstructor whose loss this gazer measures as it stops (greedy: paint): for that one the
    # threshold is exact. None: it measures none (its threshold is a prediction, or not a loss).
    exact_for: str | None = None

    def _threshold_meaning(self, stop: str | None = None) -> dict[str, Any]:
        """Result settings saying what the threshold meant (`calibration.threshold_note` reads them)."""
        if self.threshold_unit != "loss":
            return {}
        if self.exact_for is not None:
            return {"calibration": f"exact: measured {self.exact_for} loss", "calibrated_for": self.exact_for}
        return {"calibration": UNCALIBRATED, "calibrated_for": None}

    @property
    def uses_threshold(self) -> bool:
        """Whether task_loss_requirement changes what this gazer keeps."""
        return self.threshold_unit is not None

    def __init__(self, grid: MultiScaleGrid = DEFAULT_GRID, device: torch.device | str | None = None):
        self.grid = grid
        self.device = resolve_device(device)

    def prepare(self, video: Any) -> Any | None:
        """The work on a clip's frames that no budget or threshold changes, done once so that several gazes of
        the clip (the app's threshold sweep) share it: hand it back as `stream(video, ..., prepared=it)` with
        the same frames, and the gaze is the one without it, bit for bit. None: this gazer has no such work."""
        return None

    def prepared_nbytes(self, shape: Sequence[int]) -> int:
        """Bytes `prepare` holds for frames of `shape`, (T, H, W, 3) or (B, T, H, W, 3); 0: it prepares nothing."""
        return 0

    def gaze(
        self,
        video: Any,
        gazing_ratio: float | Sequence[float] | None = None,
        task_loss_requirement: float | None = None,
        **kwargs,
    ) -> GazeResult:
        """Pick slots for every frame of a clip or a batch of clips.

        Args:
            video: uint8 (T,H,W,3) or (B,T,H,W,3) array/tensor, or a path to a video or `.npy`.
            gazing_ratio: cap on slots per frame as a fraction of `grid.num_slots` (float or per-frame list).
            task_loss_requirement: error threshold; a frame stops once its loss is at or below it.

        Returns:
            GazeResult with B clips and T frames.
        """
        check(
            not kwargs,
            f"{self.name} takes no options {sorted(kwargs)} (it takes gazing_ratio and task_loss_requirement)",
        )
        clips = as_clips(video)
        threshold = check_threshold(task_loss_requirement)
        budgets = frame_budgets(gazing_ratio, clips.shape[1], self.grid.num_slots)
        start = time.perf_counter()
        result = self._gaze_clips(clips, budgets, threshold, **kwargs)
        result.seconds["gaze"] = time.perf_counter() - start
        result.gazer = self.name
        result.settings.update(
            gazing_ratio=gazing_ratio,
            task_loss_requirement=threshold,
            threshold_unit=self.threshold_unit,
            **self._threshold_meaning(),
        )
        return result

    def stream(
        self,
        frames: Any,
        gazing_ratio: float | Sequence[float] | None = None,
        task_loss_requirement: float | None = None,
        **kwargs,
    ) -> Iterator[GazeResult]:
        """Yield one `GazeResult` per frame (ids local to that frame), in order.

        Concatenating the yielded results (`concat_frames`) gives exactly what `gaze` returns.
        Subclasses that carry per-frame state implement it; the base class does not stream.
        """
        raise NotImplementedError(f"{self.name} does not stream")

    def _gaze_clips(self, clips: np.ndarray, budgets: list[int], threshold: float | None, **kwargs) -> GazeResult:
        raise NotImplementedError

    def gaze_video(
        self,
        video: Any,
        gazing_ratio: float | None = None,
        task_loss_requirement: float | None = None,
        tile: int | None = None,
        chunk_len: int = CLIP_LEN,
        batch_size: int = 8,
        overlap: int = 0,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> VideoGaze:
        """Gaze a whole video of any length and size by `chunk_len`-frame chunks and square tiles.

        `VideoGazer(self, tile, chunk_len, batch_size, overlap).gaze(...)` (`playground.whole_video`):
        tile=None gazes the whole frame as one tile (squashed, as `gaze` does); tile=PX cuts
        frames into PX-pixel squares, each gazed at the gazer's input size.
        """
        return VideoGazer(self, tile=tile, chunk_len=chunk_len, batch_size=batch_size, overlap=overlap).gaze(
            video, gazing_ratio=gazing_ratio, task_loss_requirement=task_loss_requirement, progress=progress
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, grid={self.grid.describe()!r}, device={self.device})"


@dataclass
class FrameState:
    """What a frame-by-frame gazer carries from frame to frame of a batch of B clips.

    `_start` makes it, `_step` updates it in place. Gazers that carry more subclass it
    (`CanvasState`, `RandomState`, the oracle's `OracleState`).
    """

    clips: np.ndarray  # (B, T, H, W, 3) uint8
    first = 0  # the frame index of clips[:, 0]: a live stream holds only its latest frame (`_live_frames`)
    prepared = None  # what the gazer's `prepare` made of these clips, if it was given (`stream(prepared=)`)

    @property
    def batch(self) -> int:
        return self.clips.shape[0]

    def frame(self, t: int) -> np.ndarray:
        """Frame t of every clip, uint8 (B, H, W, 3)."""
        return self.clips[:, t - self.first]


@dataclass
class CanvasState(FrameState):
    """A frame state with the running reconstruction: what the viewer has seen so far (greedy, framediff)."""

    canvas: torch.Tensor  # (B, 3, C, C) the painted canvas, normalised

    @classmethod
    def blank(cls, clips: np.ndarray, grid: MultiScaleGrid, device: torch.device) -> "CanvasState":
        """The state before frame 0: nothing seen, a blank canvas."""
        return cls(clips, blank_canvas(clips.shape[0], grid.canvas, device))


@dataclass
class FrameGaze:
    """What a frame-by-frame gazer picked in frame t of a batch of B clips.

    ids[b]: the local ids of clip b in gaze order; gaze_losses[b]: the loss after each of them
    (None: the gazer measures none); frame_losses[b]: the loss the frame ends at (None: not measured).
    """

    ids: list[list[int]]
    gaze_losses: list[list[float]] | None = None
    frame_losses: list[float] | None = None

    def result(self, grid: MultiScaleGrid, loss_kind: str, gazer: str) -> GazeResult:
        """The frame as a one-frame `GazeResult` (ids local to the frame)."""
        return GazeResult.from_frame_slots(
            [[i] for i in self.ids],
            grid,
            losses=None if self.gaze_losses is None else [[l] for l in self.gaze_losses],
            frame_loss=(
                None if self.frame_losses is None else torch.tensor(self.frame_losses, dtype=torch.float32)[:, None]
            ),
            loss_kind=loss_kind,
            gazer=gazer,
        )


class FrameByFrameGazer(Gazer):
    """A gazer whose decision for frame t depends only on frames <= t through a carried state.

    Subclasses implement `_start(clips)` -> a `FrameState` and `_step(state, t, budget, threshold)`
    -> a `FrameGaze`, updating the state in place (reading frame t as `state.frame(t)`). `gaze` and
    `stream` share that loop; `stream` also takes a live iterable of frames (`_live_frames`) unless the
    gazer needs the frames before t again (`live = False`).
    """

    live = True  # whether `stream` takes a live source: `_step` reads only frame t of the clips

    def _start(self, clips: np.ndarray) -> FrameState:
        return FrameState(clips)

    def _step(self, state: FrameState, t: int, budget: int, threshold: float | None) -> FrameGaze:
        raise NotImplementedError

    def _frames(
        self, clips: np.ndarray, budgets: list[int], threshold: float | None, prepared: Any = None
    ) -> Iterator[GazeResult]:
        state = self._start(clips)
        state.prepared = prepared
        for t, budget in enumerate(budgets):
            yield self._gaze_frame(state, t, budget, threshold)

    def _live_frames(self, source: Iterable[np.ndarray], budget: int, threshold: float | None) -> Iterator[GazeResult]:
        """Gaze frames (B, H, W, 3) as they arrive: the state holds only the latest one (`FrameState.first`)."""
        state = None
        for t, frame in enumerate(source):
            clip = frame[:, None]  # (B, 1, H, W, 3)
            if state is None:
                state = self._start(clip)
            check(clip.shape[0] == state.batch, "every streamed frame must have the same batch size")
            state.clips, state.first = clip, t
            yield self._gaze_frame(state, t, budget, threshold)

    def _gaze_frame(self, state: FrameState, t: int, budget: int, threshold: float | None) -> GazeResult:
        start = time.perf_counter()
        with cpu_threads(self.device):  # many tiny ops: one thread is fastest (see cpu_threads)
            picked = self._step(state, t, budget, threshold)
        frame = picked.result(self.grid, self.loss_kind, self.name)
        frame.seconds["gaze"] = time.perf_counter() - start
        return frame

    def _gaze_clips(self, clips, budgets, threshold, **kwargs) -> GazeResult:
        return concat_frames(list(self._frames(clips, budgets, threshold)))

    def stream(
        self, frames, gazing_ratio=None, task_loss_requirement=None, prepared: Any = None, **kwargs
    ) -> Iterator[GazeResult]:
        """As `Gazer.stream`; `prepared`: what `prepare(frames)` returned for these frames (a clip, not a live source)."""
        check(
            not kwargs,
            f"{self.name} takes no options {sorted(kwargs)} (it takes gazing_ratio and task_loss_requirement)",
        )
        threshold = check_threshold(task_loss_requirement)
        if isinstance(frames, (str, Path, np.ndarray, torch.Tensor)):
            clips = as_clips(frames)
            results = self._frames(
                clips, frame_budgets(gazing_ratio, clips.shape[1], self.grid.num_slots), threshold, prepared
            )
        else:  # a live source: frames as they arrive, one budget for all
            check(prepared is None, "prepared frames go with a clip, not with a live source")
            check(self.live, f"{self.name} needs the whole clip: stream it an array or a path, not a live source")
            check(
                gazing_ratio is None or np.isscalar(gazing_ratio),
                "a live stream of frames takes a single float gazing_ratio, not a per-frame list",
            )
            source, _ = frame_source(frames)
            results = self._live_frames(source, frame_budgets(gazing_ratio, 1, self.grid.num_slots)[0], threshold)
        for result in results:
            result.settings.update(
                gazing_ratio=gazing_ratio,
                task_loss_requirement=threshold,
                threshold_unit=self.threshold_unit,
                **self._threshold_meaning(),
            )
            yield result


def gaze_frames(
    gazer: Gazer,
    frames: Any,
    gazing_ratio: float | Sequence[float] | None = None,
    task_loss_requirement: float | None = None,
    on_frame: Callable[[int, int], None] | None = None,
    prepared: Any = None,
) -> GazeResult:
    """Gaze frame by frame where the gazer streams, so that long work can show progress.

    Args:
        gazer: any `Gazer`; one that does not stream is called once with `gaze`.
        frames: one clip, uint8 (T,H,W,3) or a path.
        gazing_ratio, task_loss_requirement: as for `Gazer.gaze`.
        on_frame: called as on_frame(done, total) after each frame (e.g. to move a progress bar).
        prepared: `gazer.prepare(frames)`, for a gazer that prepares (`Gazer.prepare`); None: none.

    Returns:
        The same `GazeResult` as `gazer.gaze(frames, ...)`, with the total time in seconds["gaze"].
    """
    start = time.perf_counter()
    try:
        shared = {} if prepared is None else {"prepared": prepared}
        stream = gazer.stream(frames, gazing_ratio=gazing_ratio, task_loss_requirement=task_loss_requirement, **shared)
        parts = []
        for part in stream:
            parts.append(part)
            if on_frame is not None:
                on_frame(len(parts), len(frames))
        result = concat_frames(parts)
    except NotImplementedError:
        result = gazer.gaze(frames, gazing_ratio=gazing_ratio, task_loss_requirement=task_loss_requirement)
    result.seconds["gaze"] = time.perf_counter() - start
    result.settings.update(
        gazing_ratio=gazing_ratio, task_loss_requirement=task_loss_requirement, threshold_unit=gazer.threshold_unit
    )
    return result
