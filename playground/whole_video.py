"""Whole-video gazing for any gazer: any length by chunks of frames, any size by square tiles.

`VideoGazer(gazer, tile, chunk_len, batch_size)` cuts frames into `chunk_len`-frame chunks
(`knobs.CLIP_LEN`, 16: the clip length AutoGaze was trained on) and each chunk into the tiles of a `tiling.TileLayout`
(`tile=None`: the whole frame as one tile, which the gazer squashes to its canvas as `gaze`
does). Every (chunk, tile) is an independent clip, gazed `batch_size` at a time by the gazer's
`gaze`, whichever gazer it is (AutoGaze or a training-free one).

- `VideoGazer.chunks(video)` is a generator of `ChunkGaze` (as SAM 2's video predictor yields
  per-frame results): memory holds one chunk (two while the last tiles of one wait for the next to
  fill their batch) and one batch of clips, whatever the video's length; a chunk's tile clips are cut
  from its frames only when a batch needs them (`TileClips`). The CLI, the app and `gaze-dataset`
  consume it.
- `VideoGazer.gaze(video)` joins the chunks into one `VideoGaze` (per-tile gazes over all frames,
  and the way back to frame pixels): the API's `gaze_video`.

Shapes: T frames, H x W frame pixels, N tiles, th x tw tile pixels.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch

from .errors import check
from .gaze import GazeResult
from .knobs import BATCH_SIZE, CLIP_LEN
from .tiling import PAD_RGB, TileLayout, tile_layout
from .video import NO_LIMITS, clips_view, input_limits

__all__ = ["BATCH_SIZE", "PAD_RGB", "ChunkGaze", "VideoGaze", "VideoGazer", "clip_count", "frame_chunks"]


def clip_count(num_frames: int, layout: TileLayout, chunk_len: int = CLIP_LEN) -> int:
    """The (chunk, tile) clips a whole-video gaze of `num_frames` frames makes (the last chunk may be short)."""
    return math.ceil(num_frames / chunk_len) * layout.num_tiles


class TileClips:
    """The tile clips of a chunk, (N, T, th, tw, 3) uint8, cut from its frames only when indexed.

    `clips[k]`, `clips[i:j]` and `clips[[i, j]]` are arrays equal to `layout.cut(frames)[...]`, but
    cost the memory of the tiles asked for: a chunk's tiles are never all held at once (at 4K by
    224-px tiles they would be 433 MB next to the 398 MB of its frames). `np.asarray(clips)` cuts all.
    """

    def __init__(self, frames: np.ndarray, layout: TileLayout):
        self.frames, self.layout = frames, layout

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.layout.num_tiles, self.frames.shape[0], *self.layout.tile_shape, 3)

    dtype = np.dtype(np.uint8)
    ndim = 5

    def __len__(self) -> int:
        return self.layout.num_tiles

    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            return self.layout.cut(self.frames, tiles=[range(len(self))[index]])[0]
        if isinstance(index, slice):
            return self.layout.cut(self.frames, tiles=range(len(self))[index])
        return self.layout.cut(self.frames, tiles=np.arange(len(self))[np.asarray(index)].reshape(-1))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.layout.cut(self.frames)
        return out if dtype is None else out.astype(dtype)


@dataclass
class ChunkGaze:
    """One chunk of a whole-video gaze: its frames, their tiles and the tiles' gazes."""

    start: int  # index of the chunk's first frame among the frames gazed
    frames: np.ndarray  # uint8 (T, H, W, 3) the chunk's frames as given
    tiles: TileClips  # uint8 (N, T, th, tw, 3) the tile clips (`layout.cut(frames)`), cut when indexed
    gaze: GazeResult  # (B = N tiles, T) the gazes of the tile clips
    layout: TileLayout  # where the tiles lie in the frame

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]


class VideoGazer:
    """Gazes whole videos with any `Gazer`, chunk by chunk and tile by tile.

    Args:
        gazer: the gazer whose `gaze` each batch of clips goes through.
        tile: tile side in frame pixels; None: the whole frame is one tile (squashed by the
            gazer, as `gaze` does). The frame is padded right and bottom to whole tiles with the
            colour that normalises to ~0 (`tiling.PAD_RGB`, as the reference pads).
        chunk_len: frames per chunk (each chunk of each tile is an independent clip).
        batch_size: clips (chunk x tile) gazed together.
        overlap: pixels shared by neighbouring tiles.
    """

    def __init__(
        self, gazer, tile: int | None = None, chunk_len: int = CLIP_LEN, batch_size: int = BATCH_SIZE, overlap: int = 0
    ):
        check(isinstance(chunk_len, int) and chunk_len > 0, f"chunk_len must be a positive integer, got {chunk_len!r}")
        check(
            isinstance(batch_size, int) and batch_size > 0, f"batch_size must be a positive integer, got {batch_size!r}"
        )
        check(
            tile is None or (isinstance(tile, (int, np.integer)) and tile >= 16),
            f"tile must be None (the whole frame) or at least 16 px, got {tile!r}",
        )
        self.gazer, self.tile, self.chunk_len, self.batch_size, self.overlap = (
            gazer,
            tile,
            chunk_len,
            batch_size,
            overlap,
        )

    def settings(self, gazing_ratio, task_loss_requirement) -> dict[str, Any]:
        return {
            "gazing_ratio": gazing_ratio,
            "task_loss_requirement": task_loss_requirement,
            "tile": self.tile,
            "overlap": self.overlap,
            "chunk_len": self.chunk_len,
            "batch_size": self.batch_size,
            "source": getattr(self.gazer, "source", self.gazer.name),
            **self.gazer._threshold_meaning(),
        }  # what the threshold meant (calibration, calibrated_for)

    def chunks(
        self,
        video: Any,
        gazing_ratio: float | None = None,
        task_loss_requirement: float | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        total_frames: int | None = None,
    ) -> Iterator[ChunkGaze]:
        """Gaze a whole video; yield each chunk, in order, once all its tiles are gazed.

        Clips are gazed `batch_size` at a time as the frames arrive (a batch may span chunks when a
        chunk has fewer tiles than that); a last, shorter chunk is gazed in batches of its own.

        Args:
            video: uint8 (T, H, W, 3), a path, or an iterable of uint8 frames (H, W, 3) or chunks
                (t, H, W, 3) (read lazily: then only a chunk and a batch of clips are held).
            gazing_ratio: float cap per frame and tile, as in `Gazer.gaze`.
            task_loss_requirement: as in `Gazer.gaze`.
            progress: called as progress(done_clips, total_clips or None) after every batch.
            total_frames: the frame count of a lazy `video`, for the progress total.
        """
        check(gazing_ratio is None or np.isscalar(gazing_ratio), "whole-video gazing takes a single float gazing_ratio")
        source, total = _frame_source(video)
        total = total if total is not None else total_frames
        layout: TileLayout | None = None
        # (chunk, tile, frames) waiting to be gazed; a tile's clip is cut from its chunk's frames when its batch runs
        queue: list[tuple[int, int, np.ndarray]] = []
        pending: dict[int, dict[str, Any]] = {}  # chunk -> its frames and gazed tiles so far
        done, next_out = 0, 0

        def run(batch: list[tuple[int, int, np.ndarray]]) -> None:
            nonlocal done
            with input_limits(**NO_LIMITS):  # a batch of chunk clips, bounded by batch_size, whatever the video
                result = self.gazer.gaze(
                    _cut_batch(layout, batch), gazing_ratio=gazing_ratio, task_loss_requirement=task_loss_requirement
                )
            for j, (c, k, _) in enumerate(batch):
                pending[c]["gazed"][k] = result.clip(j)
            done += len(batch)
            if progress is not None:
                progress(done, None if total is None else clip_count(total, layout, self.chunk_len))

        def finished() -> Iterator[ChunkGaze]:
            nonlocal next_out
            while next_out in pending and len(pending[next_out]["gazed"]) == layout.num_tiles:
                item = pending.pop(next_out)
                gaze = _stack_tiles([item["gazed"][k] for k in range(layout.num_tiles)])
                yield ChunkGaze(item["start"], item["frames"], TileClips(item["frames"], layout), gaze, layout)
                del item  # the consumer holds the chunk now: let it go with the consumer's reference
                next_out += 1

        start = 0
        for c, chunk in enumerate(frame_chunks(source, self.chunk_len)):
            if layout is None:
                layout = tile_layout(chunk.shape[1], chunk.shape[2], self.tile, self.overlap)
            check(chunk.shape[1:3] == (layout.height, layout.width), "every frame of a video must have the same size")
            pending[c] = {"start": start, "frames": chunk, "gazed": {}}
            start += len(chunk)
            queue += [(c, k, chunk) for k in range(layout.num_tiles)]
            # Gaze as soon as a full batch of equal-length clips is waiting (bounded memory).
            while len(queue) >= self.batch_size and len(queue[0][2]) == len(queue[self.batch_size - 1][2]):
                run(queue[: self.batch_size])
                del queue[: self.batch_size]
                yield from finished()
            # The next chunk is decoded before the loop rebinds it: hold one chunk, not two (unless tiles of
            # this one still wait in the queue for a batch).
            del chunk
        check(layout is not None, "the video has zero frames")
        for length in sorted({len(clip) for _, _, clip in queue}, reverse=True):
            group = [item for item in queue if len(item[2]) == length]
            for i in range(0, len(group), self.batch_size):
                run(group[i : i + self.batch_size])
        yield from finished()

    def gaze(
        self,
        video: Any,
        gazing_ratio: float | None = None,
        task_loss_requirement: float | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> "VideoGaze":
        """Gaze a whole video of any length and size; all chunks joined (see `chunks`).

        Caches are not carried across chunks: the model was trained on 16-frame clips, and this
        keeps memory bounded by `batch_size` clips whatever the video length.

        Returns:
            VideoGaze: per-tile gazes over all frames and their mapping to frame pixels.
        """
        start = time.perf_counter()
        parts = [(c.gaze, c.layout) for c in self.chunks(video, gazing_ratio, task_loss_requirement, progress)]
        gaze = _join_chunks([g for g, _ in parts])
        gaze.gazer, gaze.loss_kind = self.gazer.name, parts[0][0].loss_kind  # "measured" with the measured stop
        gaze.seconds = {"gaze": time.perf_counter() - start}
        gaze.settings = self.settings(gazing_ratio, task_loss_requirement)
        return VideoGaze(gaze=gaze, layout=parts[0][1], chunk_len=self.chunk_len)


def _cut_batch(layout: TileLayout, batch: list[tuple[int, int, np.ndarray]]) -> np.ndarray:
    """uint8 (B, T, th, tw, 3): the clips of (chunk, tile, frames) items, cut from their chunks' frames."""
    runs: list[list[tuple[int, int, np.ndarray]]] = []  # consecutive items of one chunk
    for item in batch:
        if runs and runs[-1][0][0] == item[0]:
            runs[-1].append(item)
        else:
            runs.append([item])
    parts = [layout.cut(run[0][2], tiles=[k for _, k, _ in run]) for run in runs]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _frame_source(video: Any) -> tuple[Iterable[np.ndarray], int | None]:
    """An array/path -> one run of its frames (T, H, W, 3) and T; an iterable -> its items, None."""
    if isinstance(video, (str, np.ndarray, torch.Tensor)) or hasattr(video, "__fspath__"):
        # Any length: frame_chunks copies an array (or a memory-mapped .npy) chunk by chunk, so only the
        # per-frame limit applies to it; a video file is decoded whole, within read_video's limits.
        decoded = not isinstance(video, (np.ndarray, torch.Tensor)) and not str(video).lower().endswith(".npy")
        clips = clips_view(video, **({} if decoded else {"max_frames": None, "max_pixels": None}))
        check(clips.shape[0] == 1, f"whole-video gazing takes one video, got a batch of {clips.shape[0]}")
        return [clips[0]], clips.shape[1]  # frame_chunks cuts it into chunks (views: no copy)
    check(isinstance(video, Iterable), f"cannot read frames from {type(video).__name__}")
    return video, None


def frame_chunks(items: Iterable[Any], chunk_len: int) -> Iterator[np.ndarray]:
    """uint8 frames (H, W, 3), (1, H, W, 3) or runs (t, H, W, 3), in order -> consecutive chunks
    (chunk_len, H, W, 3); the last may be shorter."""
    buffer: list[np.ndarray] = []
    held = 0
    for item in items:
        item = item.detach().cpu().numpy() if isinstance(item, torch.Tensor) else np.asarray(item)
        check(
            item.dtype == np.uint8 and item.ndim in (3, 4) and item.shape[-1] == 3,
            f"frames must be uint8 (H,W,3) or (T,H,W,3), got {item.dtype} {tuple(item.shape)}",
        )
        item = item[None] if item.ndim == 3 else item
        if not buffer and len(item) == chunk_len:  # the source already gives chunks (stream_video): no copy
            yield np.ascontiguousarray(item)
            del item  # before the next chunk is decoded, so that two are never held here
            continue
        buffer.append(item)
        held += len(item)
        while held >= chunk_len:
            run = np.concatenate(buffer) if len(buffer) > 1 else buffer[0]
            yield np.ascontiguousarray(run[:chunk_len])
            rest = run[chunk_len:]
            buffer, held = ([rest] if len(rest) else []), len(rest)
    if held:
        yield np.ascontiguousarray(np.concatenate(buffer))


def _stack_tiles(per_tile: list[GazeResult]) -> GazeResult:
    """Single-clip gazes of one chunk's tiles -> one batch (B = tiles)."""
    return _join_chunks([[r] for r in per_tile], by_tile=True)


def _join_chunks(parts: list, by_tile: bool = False) -> GazeResult:
    """Join gazes: `by_tile`, per_tile[k] = [single-clip result] -> B = tiles; otherwise a list of
    chunk batches (B = tiles, T = chunk) -> one batch over all frames.

    Frames are padded to the longest tile, as in any batch.
    """
    per_tile = parts if by_tile else [[chunk.clip(k) for chunk in parts] for k in range(parts[0].batch_size)]
    first = per_tile[0][0]
    has_loss = first.loss is not None
    slots, losses, frame_loss = [], [], []
    for chunks in per_tile:
        slots.append([r.frame_slots(0, t).tolist() for r in chunks for t in range(r.num_frames)])
        if has_loss:
            losses.append([r.frame_values(r.loss, 0, t).tolist() for r in chunks for t in range(r.num_frames)])
        if first.frame_loss is not None:
            frame_loss.append(torch.cat([r.frame_loss for r in chunks], 1))
    out = GazeResult.from_frame_slots(
        slots,
        first.grid,
        losses=losses if has_loss else None,
        frame_loss=torch.cat(frame_loss, 0) if frame_loss else None,
        loss_kind=first.loss_kind,
        gazer=first.gazer,
    )
    out.settings = dict(first.settings)
    return out


# ---- whole-video result ---------------------------------------------------------------------


@dataclass
class VideoGaze:
    """Gazes of a whole video, per tile, with the way back to the video's pixels.

    `gaze` has one clip per tile (B = tiles, row-major as in `layout.origins`) and every frame of
    the video (T); its slot ids refer to the tile squashed to the gazer's canvas (`gaze.grid`).
    `layout.canvas_to_frame` (used by `boxes`) maps a slot box to frame pixels.
    """

    gaze: GazeResult  # (B = tiles, T = video frames) per-tile gazes, frames of all chunks concatenated
    layout: TileLayout  # tile size and origins in the original frame
    chunk_len: int  # frames per independently gazed chunk

    @property
    def num_frames(self) -> int:
        return self.gaze.num_frames

    def boxes(self, frame: int) -> dict[str, np.ndarray]:
        """The gazed patches of one frame in original-frame pixels.

        Returns:
            dict with `boxes` (n, 4) int64 (y0, x0, y1, x1) end-exclusive, clipped to the frame;
            `scale` (n,) scale index (0 = coarsest); `tile` (n,) tile index; `slot` (n,) local id
            on the tile grid; `loss` (n,) the gazer's loss after that gaze (NaN if it has none).
            Boxes that fall wholly in a tile's padding are dropped.
        """
        check(0 <= frame < self.num_frames, f"frame {frame} is outside 0..{self.num_frames - 1}")
        return tile_boxes(self.gaze, self.layout, frame)

    def coverage(self, frame: int) -> np.ndarray:
        """(H, W) int8: the finest scale index gazed at each pixel of the frame, -1 where none.

        Each tile's map is `grid.finest_scale_map` at the tile's size (each pixel takes the cell
        under its centre), placed at the tile's origin and cut at the frame's edge; where tiles
        overlap, the finer scale wins.
        """
        check(0 <= frame < self.num_frames, f"frame {frame} is outside 0..{self.num_frames - 1}")
        return frame_coverage(self.gaze.slot_mask()[:, frame], self.gaze.grid, self.layout)

    def summary(self) -> str:
        g = self.gaze
        return (
            f"{g.gazer}: {self.num_frames} frames of {self.layout.width}x{self.layout.height} as "
            f"{self.layout.describe()}; {g.num_gazed} gazes "
            f"({100 * g.kept_fraction:.1f}% of tile slots), {g.seconds.get('gaze', 0):.2f} s"
        )


def tile_boxes(gaze: GazeResult, layout: TileLayout, frame: int) -> dict[str, np.ndarray]:
    """`VideoGaze.boxes` for a gaze with B = tiles of `layout` (any chunk's or the whole video's)."""
    grid = gaze.grid
    rows: dict[str, list] = {"boxes": [], "scale": [], "tile": [], "slot": [], "loss": []}
    for k in range(gaze.batch_size):
        slots = gaze.frame_slots(k, frame)
        if not len(slots):
            continue
        boxes = layout.canvas_to_frame(k, grid.boxes(slots), grid.canvas)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        rows["boxes"].append(boxes[keep])
        rows["scale"].append(grid.split_local(slots)[0][keep])
        rows["tile"].append(np.full(int(keep.sum()), k))
        rows["slot"].append(slots[keep])
        loss = (
            gaze.frame_values(gaze.loss, k, frame).numpy()
            if gaze.loss is not None
            else np.full(len(slots), np.nan, np.float32)
        )
        rows["loss"].append(loss[keep])
    empty = {"boxes": np.zeros((0, 4), np.int64)}
    return {key: np.concatenate(v) if v else empty.get(key, np.zeros(0)) for key, v in rows.items()}


def _cell_index(grid, cache: dict[tuple[int, int], np.ndarray], length: int, s: int) -> np.ndarray:
    """`grid.cell_index(length, s)`, computed once per (length, s)."""
    if (length, s) not in cache:
        cache[length, s] = grid.cell_index(length, s)
    return cache[length, s]


def frame_coverage(
    mask: torch.Tensor, grid, layout: TileLayout, height: int | None = None, width: int | None = None
) -> np.ndarray:
    """(N, S) bool per-tile slot masks of one frame -> (h, w) int8 finest gazed scale, -1 where none.

    At the frame's size by default, or at (height, width) (e.g. a preview): each tile's map is
    `grid.finest_scale_map` at the tile's extent at that size, so the frame is never drawn larger
    than asked.
    """
    height, width = height or layout.height, width or layout.width
    out = np.full((height, width), -1, dtype=np.int8)
    mask = torch.as_tensor(mask).bool().cpu().numpy()
    cells = {s: mask[:, grid.scale_slice(s)].reshape(-1, n, n) for s, n in enumerate(grid.sides)}  # (N, n, n)
    index: dict[tuple[int, int], np.ndarray] = {}  # (length, scale) -> `grid.cell_index`
    for k in range(layout.num_tiles):
        top, left, bottom, right = layout.extent(k, height, width)
        if bottom <= top or right <= left or top >= height or left >= width:
            continue
        # `grid.finest_scale_map(mask[k], h, w)` (each pixel takes the cell under its centre), cut at the edge
        h, w = min(bottom, height) - top, min(right, width) - left
        region = out[top : top + h, left : left + w]
        for s in range(grid.num_scales):  # coarse first: a finer gazed scale wins
            if not cells[s][k].any():
                continue
            rows, cols = (
                _cell_index(grid, index, length, s)[:cut] for length, cut in ((bottom - top, h), (right - left, w))
            )
            region[cells[s][k][rows[:, None], cols[None, :]] & (region < s)] = s
    return out
