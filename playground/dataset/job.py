"""The per-clip work of a dataset run: read one clip, gaze its tiles, turn each tile into a row.

Every way of gazing many clips goes through here: `gaze-dataset` (in a process pool or on Ray),
`training.make_labels.write_labels` and the `labels` command. `ClipSettings` says what a row
means; `ClipWorker` holds what one process (or Ray actor) loads once (the gazer, a
`whole_video.VideoGazer` over it, an optional reconstructor) and turns a `clips.VideoClip` into a
`ClipResult`: one row per tile, or the one-line error that stopped the clip. `read_or_error` (the
clip read by `clips.read_clip_frames`) and `ClipWorker.finish` are the two halves (Ray runs them in
different processes); `ClipWorker.run` is both.

A row is a plain dict with the columns of `shards.SCHEMA`; `label_of_row` turns a whole-frame row
of a loss-measuring gazer into its official label (`label_of`, the official labels format of
`training.labels`).

Shapes: T frames (clip_len), h x w read pixels, H x W source pixels, N tiles, E gaze entries.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .. import knobs
from ..clips import CLIP_LEN, ClipFrames, VideoClip, read_clip_frames
from ..errors import PlaygroundError, check
from ..gaze import GazeResult
from ..gazers import MEASURING_GAZERS, applicable_options, load_gazer
from ..reconstructors import load_reconstructor
from ..tiling import TileLayout
from ..video import NO_LIMITS, READ_SIDE, input_limits
from ..whole_video import BATCH_SIZE, ChunkGaze, VideoGazer


@dataclass(frozen=True)
class ClipSettings:
    """What a row means, and how it is made (every worker builds the same gazer from these)."""

    gazer: str = "greedy"  # gazer name, hub id or checkpoint folder
    gazing_ratio: float | None = knobs.GAZING_RATIO  # cap on gazes per frame and tile, as a fraction of the slots
    threshold: float | None = knobs.THRESHOLD  # task_loss_requirement; None: off (spend the budget)
    clip_len: int = CLIP_LEN  # frames per clip
    tile: int | None = None  # tile side in read pixels; None: the whole frame is one tile (the gazer squashes it)
    size: int | None = None  # squash frames to this square before gazing (labels: 224); None: keep the read size
    max_side: int | None = READ_SIDE  # decode to this long side; None: native size
    batch_size: int = BATCH_SIZE  # tile clips gazed together
    reconstructor: str | None = None  # measure each frame's rebuild loss with this; None: no `loss` column
    measured: bool = False  # the gazer must measure its loss after each gaze (labels are made of that trace)
    gazer_reconstructor: str = "paint"  # whose loss a measuring gazer (oracle) measures
    device: str | None = None  # cpu | cuda | cuda:N; None: $PLAYGROUND_DEVICE, else auto
    options: dict[str, Any] = field(default_factory=dict)  # more load_gazer options

    def meaning(self) -> dict[str, Any]:
        """The settings that change what the rows hold (a resumed run must keep them; batch size and
        device change only the speed)."""
        return {
            "gazer": self.gazer,
            "gazing_ratio": self.gazing_ratio,
            "threshold": self.threshold,
            "clip_len": self.clip_len,
            "tile": self.tile,
            "size": self.size,
            "max_side": self.max_side,
            "reconstructor": self.reconstructor,
            "gazer_reconstructor": self.gazer_reconstructor,
            "options": dict(self.options),
        }


def load_clip_gazer(settings: ClipSettings):
    """The gazer of `settings`; with `measured`, refused unless it measures its loss trace."""
    name = settings.gazer.strip().lower()
    options = dict(settings.options)
    if name in MEASURING_GAZERS:
        options["reconstructor"] = settings.gazer_reconstructor
    elif settings.measured:
        check(
            settings.gazer_reconstructor == "paint",
            f"{settings.gazer} measures the paint loss only; use --gazer oracle for --reconstructor "
            f"{settings.gazer_reconstructor}",
        )
    options.update(applicable_options(settings.gazer, clip_len=settings.clip_len))  # AutoGaze's cache restarts
    gazer = load_gazer(settings.gazer, device=settings.device, **options)
    # A gazer that stops at a measured loss measures it after each gaze; framediff measures only each
    # frame's final loss (it stops at a change), so it has no trace either.
    check(
        not settings.measured or (gazer.loss_kind == "measured" and gazer.threshold_unit == "loss"),
        f"{settings.gazer} does not measure the loss after each gaze (its loss is {gazer.loss_kind}"
        f"{', per frame only' if gazer.loss_kind == 'measured' else ''}); labels need a measured trace: "
        "use greedy (paint) or oracle",
    )
    return gazer


@dataclass
class ClipResult:
    """What became of one clip: its rows (one per tile) or the one-line error that stopped it."""

    clip: VideoClip  # the clip
    rows: list[dict[str, Any]]  # (N,) rows with the columns of `shards.SCHEMA`; empty on error
    error: str | None = None  # why the clip could not be read or gazed


def read_or_error(clip: VideoClip, settings: ClipSettings) -> ClipFrames | str:
    """The clip read as `settings` says, or the one-line error that stopped it (a clip that cannot be
    read is not the end of a run)."""
    try:
        # The clip is clip_len frames whatever the size, so the decode-pixel limit would only refuse
        # large frames; the per-frame limit and the byte ceiling of `read_video` still hold.
        return read_clip_frames(clip, settings.clip_len, settings.size, settings.max_side, max_pixels=None)
    except PlaygroundError as exc:
        return str(exc)


class ClipWorker:
    """What one process holds to gaze clips: the gazer, its VideoGazer and the optional reconstructor."""

    def __init__(self, settings: ClipSettings):
        self.settings = settings
        self.gazer = load_clip_gazer(settings)
        self.video_gazer = VideoGazer(
            self.gazer, tile=settings.tile, chunk_len=settings.clip_len, batch_size=settings.batch_size
        )
        self.reconstructor = (
            None
            if settings.reconstructor is None
            else load_reconstructor(settings.reconstructor, device=settings.device)
        )

    def run(self, clip: VideoClip) -> ClipResult:
        """Read and gaze one clip; a clip that cannot be read or gazed is a result with its error."""
        return self.finish(clip, read_or_error(clip, self.settings))

    def finish(self, clip: VideoClip, read: ClipFrames | str) -> ClipResult:
        """Gaze a clip read by `read_or_error`, or pass on the error that stopped its read."""
        if isinstance(read, str):
            return ClipResult(clip, [], read)
        try:
            return self.gaze(clip, read)
        except PlaygroundError as exc:
            return ClipResult(clip, [], str(exc))

    def gaze(self, clip: VideoClip, read: ClipFrames) -> ClipResult:
        """Gaze a clip already read: one row per tile."""
        start = time.perf_counter()
        s = self.settings
        # The clip is exactly one chunk (clip_len frames), so `chunks` yields once.
        (chunk,) = self.video_gazer.chunks(read.frames, s.gazing_ratio, s.threshold)
        rebuilt = self._rebuild_loss(chunk)
        seconds = (read.seconds + time.perf_counter() - start) / chunk.layout.num_tiles
        boxes = source_boxes(chunk.layout, read.source_size)
        rows = [
            tile_row(clip, chunk, k, boxes[k], read.source_size, None if rebuilt is None else rebuilt[k], seconds)
            for k in range(chunk.layout.num_tiles)
        ]
        return ClipResult(clip, rows)

    def _rebuild_loss(self, chunk: ChunkGaze) -> list[list[float]] | None:
        """(N, T) each tile's per-frame loss rebuilt from its gaze, or None without a reconstructor."""
        if self.reconstructor is None:
            return None
        b = self.settings.batch_size
        losses: list[list[float]] = []
        for i in range(0, chunk.layout.num_tiles, b):  # the tile clips in batches, as they were gazed
            with input_limits(**NO_LIMITS):  # b tile clips of one clip: bounded by the run's settings
                rebuilt = self.reconstructor.reconstruct(chunk.tiles[i : i + b], chunk.gaze.select(slice(i, i + b)))
            losses += rebuilt.loss.tolist()
        return losses


def source_boxes(layout: TileLayout, source_size: tuple[int, int]) -> np.ndarray:
    """(N, 4) int64 (y0, x0, y1, x1) of every tile in the video's own pixels (the read may be smaller)."""
    H, W = source_size
    scale = np.array([H / layout.height, W / layout.width] * 2)
    return np.round(layout.tile_boxes() * scale).astype(np.int64)


def tile_row(
    clip: VideoClip,
    chunk: ChunkGaze,
    k: int,
    box: np.ndarray,
    source_size: tuple[int, int],
    loss: list[float] | None,
    seconds: float,
) -> dict[str, Any]:
    """The row of tile k of a gazed clip (columns and meanings: `shards.SCHEMA`, docs/datasets.md)."""
    gaze = chunk.gaze.clip(k)  # this tile alone, with its own (tight) per-frame counts
    official = gaze.to_official()
    return {
        "video_path": str(clip.path),
        "clip_start": int(clip.start),
        "clip_len": int(chunk.num_frames),
        "tile": k,
        "num_tiles": chunk.layout.num_tiles,
        "tile_box": [int(v) for v in box],
        "source_size": [int(v) for v in source_size],
        "read_size": [int(chunk.layout.height), int(chunk.layout.width)],
        "gazing_pos": official["gazing_pos"][0].tolist(),
        "if_padded_gazing": official["if_padded_gazing"][0].tolist(),
        "num_gazing_each_frame": official["num_gazing_each_frame"].tolist(),
        "tokens_kept": gaze.num_gazed,
        "tokens_total": gaze.num_frames * gaze.grid.num_slots,
        "gazer_loss": None if gaze.loss is None else gaze.loss[0].tolist(),
        "loss": loss,
        "seconds": float(seconds),
    }


def gaze_of_row(row: dict[str, Any]) -> GazeResult:
    """A row's gaze (one clip) with the gazer's loss trace when it has one."""
    loss = row.get("gazer_loss")
    return GazeResult.from_official(
        {
            key: [row[key]] if key != "num_gazing_each_frame" else row[key]
            for key in ("gazing_pos", "if_padded_gazing", "num_gazing_each_frame")
        },
        loss=None if loss is None else torch.tensor([loss], dtype=torch.float32),
    )


def label_of(gaze: GazeResult, clip: int = 0) -> dict[str, list[list]]:
    """One clip of a gaze -> its official label: per frame, global ids of the real gazes and the loss after each."""
    real = ~gaze.if_padded_gazing[clip]
    frame = gaze.frame_of_entry
    pos, losses = [], []
    for t in range(gaze.num_frames):
        keep = real & (frame == t)
        pos.append([int(i) for i in gaze.gazing_pos[clip, keep]])
        losses.append([round(float(v), 6) for v in gaze.loss[clip, keep]])
    return {"gazing_pos": pos, "task_losses": losses}


def label_of_row(row: dict[str, Any]) -> dict[str, list[list]]:
    """The official label of a whole-frame row made by a loss-measuring gazer."""
    check(row.get("gazer_loss") is not None, f"{row['video_path']}: the row has no loss trace to make a label of")
    return label_of(gaze_of_row(row))
