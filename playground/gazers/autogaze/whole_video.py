"""Whole-video gazing: any length and aspect ratio, by chunks of frames and square tiles.

`VideoGazer` holds the tiling and chunking that `AutoGazeGazer.gaze_video` hands it (as CoTracker
keeps its online predictor apart from the offline one): frames are cut into `chunk_len`-frame
chunks (16, the clip length AutoGaze was trained on) and padded square tiles; every (chunk, tile)
is an independent clip, gazed `batch_size` at a time by the gazer's `gaze`. `VideoGaze` is the
result: per-tile gazes over all frames (B = tiles, T = video frames) and the way back to pixels.

`chunk_len` is not the gazer's `clip_len` (the period at which `gaze` and `stream` restart their
caches): a chunk is gazed by one `gaze` call, which may itself restart its caches within it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import numpy as np
import torch

from ...errors import check
from ...gaze import GazeResult
from ...video import TileLayout
from .preprocess import frame_source

if TYPE_CHECKING:
    from .gazer import AutoGazeGazer

CHUNK_LEN = 16  # frames per chunk in whole-video gazing: the clip length AutoGaze was trained on
PAD_RGB = (189, 186, 179)  # uint8 colour whose normalised value is ~0 (127.5 * (1 + ImageNet mean))


class VideoGazer:
    """Gazes whole videos with an `AutoGazeGazer`, chunk by chunk and tile by tile.

    Args:
        gazer: the gazer whose `gaze` each batch of clips goes through.
        tile: tile side in original pixels (default: the frame's short side, so a square frame
            is one tile and a 16:9 frame two). The frame is padded right and bottom to whole
            tiles with the colour that normalises to ~0 (as the reference pads), and each tile
            is resized to 224 like any clip.
        chunk_len: frames per chunk (each chunk of each tile is an independent clip).
        batch_size: clips (chunk x tile) gazed together.
    """

    def __init__(self, gazer: "AutoGazeGazer", tile: int | None = None, chunk_len: int = CHUNK_LEN,
                 batch_size: int = 8):
        check(isinstance(chunk_len, int) and chunk_len > 0, f"chunk_len must be a positive integer, got {chunk_len!r}")
        check(isinstance(batch_size, int) and batch_size > 0, f"batch_size must be a positive integer, got {batch_size!r}")
        self.gazer, self.tile, self.chunk_len, self.batch_size = gazer, tile, chunk_len, batch_size

    def gaze(self, video, gazing_ratio: float | None = None, task_loss_requirement: float | None = None,
             progress: Callable[[int, int | None], None] | None = None) -> "VideoGaze":
        """Gaze a whole video of any length and size.

        Caches are not carried across chunks: the model was trained on 16-frame clips, and this
        keeps memory bounded by `batch_size` clips whatever the video length. Clips are gazed
        `batch_size` at a time as the frames arrive; a last, shorter chunk is gazed in batches of
        its own.

        Args:
            video: uint8 (T, H, W, 3), a path, or an iterable of uint8 (H, W, 3) frames (read
                lazily: then only one chunk and one batch of clips are held at a time).
            gazing_ratio: float cap per frame and tile, as in `AutoGazeGazer.gaze`.
            task_loss_requirement: as in `AutoGazeGazer.gaze`.
            progress: called as progress(done_clips, total_clips or None) after every batch.

        Returns:
            VideoGaze: per-tile gazes over all frames and their mapping to frame pixels.
        """
        check(gazing_ratio is None or np.isscalar(gazing_ratio), "gaze_video takes a single float gazing_ratio")
        chunk_len, batch_size, gazer = self.chunk_len, self.batch_size, self.gazer
        source, total = frame_source(video)
        start = time.perf_counter()
        layout, queue, results = None, [], {}
        n_chunks, done = 0, 0

        def run(batch: list) -> None:
            nonlocal done
            result = gazer.gaze(np.stack([clip for _, clip in batch]), gazing_ratio=gazing_ratio,
                                task_loss_requirement=task_loss_requirement)
            for j, (unit, _) in enumerate(batch):
                results[unit] = result.clip(j)
            done += len(batch)
            if progress is not None:
                todo = None if total is None else math.ceil(total / chunk_len) * layout.num_tiles
                progress(done, todo)

        for chunk in _chunks(source, chunk_len):
            if layout is None:
                H, W = chunk.shape[1:3]
                layout = padded_tile_layout(H, W, int(self.tile or min(H, W)))
            check(chunk.shape[1:3] == (layout.height, layout.width), "every frame of a video must have the same size")
            for k, clip in enumerate(pad_tiles(chunk, layout)):
                queue.append(((n_chunks, k), clip))
            n_chunks += 1
            # Gaze as soon as a full batch of equal-length clips is waiting (bounded memory).
            while len(queue) >= batch_size and len(queue[0][1]) == len(queue[batch_size - 1][1]):
                run(queue[:batch_size])
                del queue[:batch_size]
        for length in sorted({len(clip) for _, clip in queue}, reverse=True):
            group = [item for item in queue if len(item[1]) == length]
            for i in range(0, len(group), batch_size):
                run(group[i:i + batch_size])
        check(layout is not None, "the video has zero frames")
        gaze = _join_chunks([[results[(c, k)] for c in range(n_chunks)] for k in range(layout.num_tiles)])
        gaze.gazer, gaze.loss_kind = gazer.name, gazer.loss_kind
        gaze.seconds = {"gaze": time.perf_counter() - start}
        gaze.settings = {"gazing_ratio": gazing_ratio, "task_loss_requirement": task_loss_requirement,
                         "tile": layout.tile, "chunk_len": chunk_len, "batch_size": batch_size, "source": gazer.source}
        return VideoGaze(gaze=gaze, layout=layout, chunk_len=chunk_len)


def _chunks(frames: Iterable[np.ndarray], chunk_len: int) -> Iterator[np.ndarray]:
    """(1, H, W, 3) frames -> consecutive uint8 (chunk_len, H, W, 3) chunks (the last may be shorter)."""
    buffer = []
    for frame in frames:
        check(frame.shape[0] == 1, f"gaze_video takes one video, got a batch of {frame.shape[0]}")
        buffer.append(frame[0])
        if len(buffer) == chunk_len:
            yield np.stack(buffer)
            buffer = []
    if buffer:
        yield np.stack(buffer)


def padded_tile_layout(height: int, width: int, tile: int) -> TileLayout:
    """Row-major square tiles covering an (H, W) frame padded right/bottom to whole tiles."""
    rows, cols = math.ceil(height / tile), math.ceil(width / tile)
    origins = tuple((r * tile, c * tile) for r in range(rows) for c in range(cols))
    return TileLayout(height, width, tile, 0, rows, cols, origins)


def pad_tiles(frames: np.ndarray, layout: TileLayout) -> np.ndarray:
    """uint8 (T, H, W, 3) -> (tiles, T, tile, tile, 3) on the padded grid of `layout`."""
    T, H, W = frames.shape[:3]
    n = layout.tile
    canvas = np.empty((T, layout.rows * n, layout.cols * n, 3), dtype=np.uint8)
    canvas[...] = PAD_RGB
    canvas[:, :H, :W] = frames
    tiles = canvas.reshape(T, layout.rows, n, layout.cols, n, 3).transpose(1, 3, 0, 2, 4, 5)
    return np.ascontiguousarray(tiles.reshape(layout.num_tiles, T, n, n, 3))


def _join_chunks(per_tile: list[list[GazeResult]]) -> GazeResult:
    """Single-clip chunk results, `per_tile[k][c]` -> one batch (B = tiles) over all frames.

    Frames are padded to the longest tile, as in any batch.
    """
    slots, losses, frame_loss = [], [], []
    for chunks in per_tile:
        slots.append([r.frame_slots(0, t).tolist() for r in chunks for t in range(r.num_frames)])
        losses.append([r.frame_values(r.loss, 0, t).tolist() for r in chunks for t in range(r.num_frames)])
        frame_loss.append(torch.cat([r.frame_loss for r in chunks], 1))
    return GazeResult.from_frame_slots(slots, per_tile[0][0].grid, losses=losses, frame_loss=torch.cat(frame_loss, 0),
                                       loss_kind="predicted")


# ---- whole-video result ---------------------------------------------------------------------


@dataclass
class VideoGaze:
    """AutoGaze gazes of a whole video, per tile, with the way back to the video's pixels.

    `gaze` has one clip per tile (B = tiles, row-major as in `layout.origins`) and every frame of
    the video (T); its slot ids refer to the tile's own 224-pixel canvas (`gaze.grid`). A slot box
    (y0, x0, y1, x1) on that canvas covers `box * layout.tile / 224` pixels of the tile, which sits
    at `layout.origins[k]` in the frame (`boxes` does this for you).
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
            on the tile grid; `loss` (n,) predicted loss after that gaze. Boxes that fall wholly
            in a tile's padding are dropped.
        """
        check(0 <= frame < self.num_frames, f"frame {frame} is outside 0..{self.num_frames - 1}")
        grid, layout = self.gaze.grid, self.layout
        rows = {"boxes": [], "scale": [], "tile": [], "slot": [], "loss": []}
        for k in range(self.gaze.batch_size):
            slots = self.gaze.frame_slots(k, frame)
            if not len(slots):
                continue
            local = np.round(grid.boxes(slots) * (layout.tile / grid.canvas)).astype(np.int64)
            boxes = layout.to_frame(k, local)
            keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
            rows["boxes"].append(boxes[keep])
            rows["scale"].append(grid.split_local(slots)[0][keep])
            rows["tile"].append(np.full(int(keep.sum()), k))
            rows["slot"].append(slots[keep])
            rows["loss"].append(self.gaze.frame_values(self.gaze.loss, k, frame).numpy()[keep])
        empty = {"boxes": np.zeros((0, 4), np.int64)}
        return {key: np.concatenate(v) if v else empty.get(key, np.zeros(0)) for key, v in rows.items()}

    def coverage(self, frame: int) -> np.ndarray:
        """(H, W) int8: the finest scale index gazed at each pixel of the frame, -1 where none.

        Each tile's map is `grid.finest_scale_map` at the tile's size (each pixel takes the cell
        under its centre), placed at the tile's origin and cut at the frame's edge; where tiles
        overlap, the finer scale wins.
        """
        check(0 <= frame < self.num_frames, f"frame {frame} is outside 0..{self.num_frames - 1}")
        grid, layout, n = self.gaze.grid, self.layout, self.layout.tile
        mask = torch.zeros(self.gaze.batch_size, grid.num_slots, dtype=torch.bool)
        for k in range(self.gaze.batch_size):
            mask[k, torch.as_tensor(self.gaze.frame_slots(k, frame))] = True
        maps = grid.finest_scale_map(mask, n, n).numpy()  # (tiles, n, n)
        out = np.full((layout.height, layout.width), -1, dtype=np.int8)
        for k, (y0, x0) in enumerate(layout.origins):
            region = out[y0:y0 + n, x0:x0 + n]
            np.maximum(region, maps[k, :region.shape[0], :region.shape[1]], out=region)
        return out

    def summary(self) -> str:
        g = self.gaze
        return (f"{g.gazer}: {self.num_frames} frames of {self.layout.height}x{self.layout.width} as "
                f"{self.layout.num_tiles} tile(s) of {self.layout.tile} px; {g.num_gazed} gazes "
                f"({100 * g.kept_fraction:.1f}% of tile slots), {g.seconds.get('gaze', 0):.2f} s")
