"""Square tiles of large frames: the one layout, cut and paste that every tiled path uses.

`tile_layout(H, W, tile, overlap)` places square tiles of `tile` pixels row-major, stepping by
`tile - overlap`, and pads the frame right and bottom to whole tiles (as the reference pads a
frame for `input_res_adapt`). `TileLayout.cut` makes the tiles (each tile a clip over time),
`TileLayout.paste` puts processed tiles back (overlaps averaged), and `TileLayout.to_frame` maps
boxes in a tile to frame pixels. `tile=None` is the whole-frame layout: one tile that is the frame
itself, which a gazer squashes to its canvas like any clip.

Users: `video.tile_frames` / `untile_frames`, whole-video gazing (`playground.whole_video`, behind
`gaze_video`, the CLI, the app and `gaze-dataset`), AutoGaze's retargeting onto another grid, and
the notebooks. Shapes: T frames, H x W frame pixels, N tiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .errors import check

# uint8 colour whose normalised value is ~0 (127.5 * (1 + ImageNet mean)): padding that the gazer sees as "nothing"
PAD_RGB = (189, 186, 179)


@dataclass(frozen=True)
class TileLayout:
    """Where the tiles lie in the (padded) frame; the inverse mapping of tiling."""

    height: int  # H of the original frames
    width: int  # W of the original frames
    tile: int  # side of one square tile in pixels; 0: the whole frame is the one tile
    overlap: int  # pixels shared by neighbouring tiles
    rows: int  # tiles down
    cols: int  # tiles across
    origins: tuple[tuple[int, int], ...]  # (rows*cols,) (y0, x0) of each tile, row-major

    @property
    def num_tiles(self) -> int:
        return self.rows * self.cols

    @property
    def whole_frame(self) -> bool:
        """One tile that is the frame itself (not square unless the frame is)."""
        return self.tile == 0

    @property
    def tile_shape(self) -> tuple[int, int]:
        """(height, width) of one tile in frame pixels."""
        return (self.height, self.width) if self.whole_frame else (self.tile, self.tile)

    @property
    def padded_shape(self) -> tuple[int, int]:
        """(height, width) of the frame padded to whole tiles."""
        th, tw = self.tile_shape
        return self.origins[-1][0] + th, self.origins[-1][1] + tw

    def to_frame(self, tile_index: int, boxes: np.ndarray) -> np.ndarray:
        """Boxes (N, 4) (y0, x0, y1, x1) in one tile's pixels -> the same boxes in frame pixels (clipped)."""
        y0, x0 = self.origins[tile_index]
        out = np.asarray(boxes, dtype=np.int64) + np.array([y0, x0, y0, x0])
        return np.clip(out, 0, [self.height, self.width, self.height, self.width])

    def tile_boxes(self) -> np.ndarray:
        """(N, 4) int64 (y0, x0, y1, x1) of every tile in frame pixels, clipped to the frame."""
        th, tw = self.tile_shape
        return np.stack([self.to_frame(k, np.array([[0, 0, th, tw]]))[0] for k in range(self.num_tiles)])

    def extent(self, tile_index: int, height: int, width: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) of tile k on a (height, width) picture of the frame (e.g. a preview),
        rounded; it may reach past the picture's edge where the tile holds padding."""
        (y0, x0), (th, tw) = self.origins[tile_index], self.tile_shape
        sy, sx = height / self.height, width / self.width
        return round(y0 * sy), round(x0 * sx), round((y0 + th) * sy), round((x0 + tw) * sx)

    def canvas_to_frame(self, tile_index: int, boxes: np.ndarray, canvas: int) -> np.ndarray:
        """Boxes on a gazer's `canvas`-pixel square (a tile squashed to it) -> frame pixels (clipped)."""
        th, tw = self.tile_shape
        local = np.round(np.asarray(boxes, dtype=np.float64) * np.array([th, tw, th, tw]) / canvas).astype(np.int64)
        return self.to_frame(tile_index, local)

    # ---- cut and paste ------------------------------------------------------------------------
    def cut(self, frames: Any, fill: Any = PAD_RGB, channels_last: bool = True, tiles: Any = None) -> Any:
        """Frames -> tiles, each tile a clip over the same leading axes.

        Args:
            frames: (..., H, W, C) uint8 array (channels_last) or (..., C, H, W) tensor/array.
            fill: the padding value per channel (default PAD_RGB; 0 for normalised tensors).
            channels_last: where the channel axis is.
            tiles: indices of the tiles to cut, in the order wanted (default: all N), so that a
                batch of tiles costs the memory of that batch only.

        Returns:
            (N, ..., tile, tile, C) (or (N, ..., C, tile, tile)), the same type as `frames`; N is
            len(tiles) when given.
        """
        hw = (-3, -2) if channels_last else (-2, -1)
        H, W = frames.shape[hw[0]], frames.shape[hw[1]]
        check(
            (H, W) == (self.height, self.width),
            f"frames of {W}x{H} px do not fit a layout of {self.width}x{self.height}",
        )
        wanted = range(self.num_tiles) if tiles is None else [int(k) for k in tiles]
        check(all(0 <= k < self.num_tiles for k in wanted), f"tile indices must lie in [0, {self.num_tiles})")
        if self.whole_frame:
            return frames[None] if tiles is None else frames[None][[0] * len(wanted)]
        # Each tile's part inside the frame is copied and only the rest filled: no padded copy of the whole frame.
        t = self.tile
        if channels_last:
            shape = (len(wanted), *frames.shape[:-3], t, t, frames.shape[-1])
        else:
            shape = (len(wanted), *frames.shape[:-2], t, t)
        out, pad = _empty(frames, shape, fill, channels_last)
        last = (lambda x: x) if channels_last else _channels_last
        src = last(frames)
        for j, k in enumerate(wanted):
            y, x = self.origins[k]
            h, w = max(0, min(t, H - y)), max(0, min(t, W - x))
            tile = last(out[j])
            tile[..., :h, :w, :] = src[..., y : y + h, x : x + w, :]
            tile[..., h:, :, :] = pad
            tile[..., :h, w:, :] = pad
        return out

    def paste(self, tiles: np.ndarray) -> np.ndarray:
        """Inverse of `cut` for uint8 (N, T, th, tw, 3) tiles -> (T, H, W, 3), overlaps averaged.

        The tiles may have been processed (e.g. rebuilt); they must keep the layout's tile shape.
        """
        tiles = np.asarray(tiles)
        th, tw = self.tile_shape
        check(
            tiles.ndim == 5 and tiles.shape[0] == self.num_tiles and tiles.shape[2:4] == (th, tw),
            f"expected ({self.num_tiles}, T, {th}, {tw}, 3) tiles, got {tuple(tiles.shape)}",
        )
        if self.whole_frame:
            return np.ascontiguousarray(tiles[0])
        T = tiles.shape[1]
        ph, pw = self.padded_shape
        if self.overlap == 0:  # tiles do not meet: place them
            out = np.empty((T, ph, pw, 3), dtype=np.uint8)
            for k, (y, x) in enumerate(self.origins):
                out[:, y : y + th, x : x + tw] = tiles[k]
            return np.ascontiguousarray(out[:, : self.height, : self.width])
        total = np.zeros((T, ph, pw, 3), dtype=np.float32)
        weight = np.zeros((1, ph, pw, 1), dtype=np.float32)
        for k, (y, x) in enumerate(self.origins):
            total[:, y : y + th, x : x + tw] += tiles[k]
            weight[:, y : y + th, x : x + tw] += 1
        out = np.round(total / weight).clip(0, 255).astype(np.uint8)
        return np.ascontiguousarray(out[:, : self.height, : self.width])

    def describe(self) -> str:
        if self.whole_frame:
            return f"one tile (the whole {self.width}x{self.height} frame)"
        return (
            f"{self.num_tiles} tile(s) of {self.tile} px ({self.rows} x {self.cols}"
            f"{f', overlap {self.overlap}' if self.overlap else ''}) over {self.width}x{self.height}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "width": self.width,
            "tile": self.tile,
            "overlap": self.overlap,
            "rows": self.rows,
            "cols": self.cols,
            "origins": [list(o) for o in self.origins],
        }


def tile_layout(height: int, width: int, tile: int | None = None, overlap: int = 0) -> TileLayout:
    """Row-major square tiles of `tile` px over an (H, W) frame, stepping by `tile - overlap`.

    The last row and column reach past the frame's edge when the sizes do not divide; `cut`
    pads there. `tile=None` (or 0) gives the whole-frame layout.
    """
    check(
        isinstance(height, (int, np.integer)) and isinstance(width, (int, np.integer)) and height > 0 and width > 0,
        f"a frame must have positive sides, got {width}x{height}",
    )
    if not tile:
        return TileLayout(int(height), int(width), 0, 0, 1, 1, ((0, 0),))
    check(isinstance(tile, (int, np.integer)) and tile > 0, f"tile must be a positive integer, got {tile!r}")
    check(
        isinstance(overlap, (int, np.integer)) and 0 <= overlap < tile,
        f"overlap must lie in [0, {tile}), got {overlap!r}",
    )
    step = tile - overlap
    rows, cols = (max(1, math.ceil((n - overlap) / step)) for n in (height, width))
    origins = tuple((r * step, c * step) for r in range(rows) for c in range(cols))
    return TileLayout(int(height), int(width), int(tile), int(overlap), rows, cols, origins)


def _empty(like: Any, shape: tuple[int, ...], fill: Any, channels_last: bool) -> tuple[Any, Any]:
    """An uninitialised array (or tensor) of `like`'s type and dtype, of `shape`, and `fill` per channel in that type."""
    channels = shape[-1] if channels_last else shape[-3]
    values = np.broadcast_to(np.asarray(fill, dtype=np.float64), (channels,)).copy()
    if isinstance(like, torch.Tensor):
        return (
            torch.empty(shape, dtype=like.dtype, device=like.device),
            torch.as_tensor(values, dtype=like.dtype, device=like.device),
        )
    return np.empty(shape, dtype=like.dtype), values.astype(like.dtype)


def _channels_last(x: Any) -> Any:
    """A (..., C, H, W) array or tensor seen as (..., H, W, C)."""
    return x.movedim(-3, -1) if isinstance(x, torch.Tensor) else np.moveaxis(x, -3, -1)
