"""The one run path: gaze a video, rebuild it, and write one `gaze.json` schema, whole-frame or tiled.

A run is chunks x tiles. The whole frame read at `READ_SIDE` and gazed as one clip (the CLI's default, the
app's tile size 0) is the one-chunk, one-tile case; `run_video` is the general case, what
`python -m playground gaze --tile PX` / `--frames all` and the app's tile size do. Both write `gaze.json`
through `GazeJson` in the same versioned schema (`GAZE_FORMAT`):

    {"format": "playground.gaze/2", "source", "read_size": [W, H], "layout": TileLayout.to_json(),
     "gazer", "reconstructor", "settings",
     "chunks": [{"start", "num_frames",
                 "tiles": [{"tile", "box": [y0, x0, y1, x1], "gaze": GazeResult.to_json() (the official dict),
                            "boxes": per frame [[y0, x0, y1, x1, scale], ...] in frame pixels,
                            "reconstruction": {"loss", "psnr_db" (null = exact), "ssim" (whole-frame runs)}}]}],
     "totals": {"frames", "tiles", "slots_kept", "slots_total", "kept_fraction", "reconstruction_loss",
                "psnr_db", "exact_frames", "loss_kind", "threshold_note", "gazer_loss", "frames_over_threshold",
                "seconds", ...}}

`read_gaze_json` reads it, and the two older files (an untiled run's bare `GazeResult.to_json()` with its
"reconstruction", and "playground.tiled-gaze/1") upgraded to it.

`run_video` streams: frames come chunk by chunk (`video.stream_video`), each chunk's tiles are gazed in
batches (`whole_video.VideoGazer.chunks`) and rebuilt in batches, and every output is written as
the chunks pass, so memory holds one chunk (two while the last tiles of one wait for the next to fill
their batch) and one batch of tile clips with its working copies, whatever the video's length, size, tile
size, gazer and reconstructor (nothing the size of a chunk is made in float; `benchmarks/scale.py`):

- `overlay.mp4`: the original frames with the gazed patches coloured by scale and the tile grid
  drawn, at most `preview_width` pixels wide;
- `reconstruction.mp4`: the rebuilt tiles put back in place, at the same size;
- `gaze.json` (above);
- `metrics.csv`: one row per frame in the one column set of every run (`report.metrics_rows`: summed over
  tiles: slots kept, per scale too; averaged: the gazer's loss, the reconstruction's loss and PSNR; SSIM
  blank: it is not measured with tiles), also kept in `RunTotals.rows` for the summary and the figures.

Shapes: T frames of a chunk, H x W frame pixels, h x w preview pixels, N tiles.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

from . import jsonio, report
from .errors import PlaygroundError, check
from .gaze import GazeResult
from .knobs import PREVIEW_WIDTH
from .report import MetricsCsv, loss_check, mean_psnr, metrics_rows
from .tiling import TileLayout, tile_layout
from .video import NO_LIMITS, VideoWriter, input_limits, resize_frames
from .viz import paint_scales
from .whole_video import ChunkGaze, VideoGazer, clip_count, frame_coverage, tile_boxes

GRID_RGB = (255, 255, 255)  # the tile grid's colour on the overlay
OUTPUT_FILES = ("gaze.json", "metrics.csv", "overlay.mp4", "reconstruction.mp4")
GAZE_FORMAT = "playground.gaze/2"  # gaze.json's schema (module docstring); bump it when the schema changes
TILED_FORMAT_1 = "playground.tiled-gaze/1"  # the tiled runs' gaze.json before GAZE_FORMAT: read and upgraded


@dataclass
class RunTotals:
    """What a whole-video run kept and rebuilt, summed as the chunks pass."""

    frames: int = 0  # frames gazed
    tiles: int = 0  # tiles per frame
    slots_kept: int = 0  # gazes over all frames and tiles
    slots_total: int = 0  # frames x tiles x slots per tile
    loss_sum: float = 0.0  # sum of per-(frame, tile) reconstruction losses
    psnr: list = field(default_factory=list)  # per-(frame, tile) PSNR in dB (inf = exact)
    rows: list = field(default_factory=list)  # metrics.csv's rows (`report.metrics_rows`), one per frame
    own_loss: list = field(default_factory=lambda: [0.0, 0])  # the gazer's own per-(frame, tile) loss: sum, count
    loss_kind: str = "none"  # the gazer's own loss: "predicted", "measured" or "none"
    settings: dict = field(default_factory=dict)  # gaze.json's head settings (what the threshold meant)
    reconstructor: str = ""  # the reconstructor's name
    seconds: dict[str, float] = field(
        default_factory=lambda: {"decode": 0.0, "gaze": 0.0, "reconstruct": 0.0, "write": 0.0}
    )

    @property
    def loss(self) -> float:
        return self.loss_sum / max(1, self.frames * self.tiles)

    def to_json(self) -> dict[str, Any]:
        psnr = mean_psnr(torch.tensor(self.psnr)) if self.psnr else float("nan")
        return {
            "frames": self.frames,
            "tiles": self.tiles,
            "slots_kept": self.slots_kept,
            "slots_total": self.slots_total,
            "kept_fraction": round(self.slots_kept / max(1, self.slots_total), 6),
            "reconstruction_loss": round(self.loss, 6),
            "psnr_db": None if not math.isfinite(psnr) else round(psnr, 4),
            "exact_frames": int(np.isinf(np.asarray(self.psnr, dtype=np.float64)).sum()),
            "loss_kind": self.loss_kind,
            **loss_check(self.rows, self.settings, self.reconstructor, own_mean(self.own_loss)),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def clip_totals(
    gaze: GazeResult, rec, seconds: dict[str, float], rows: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """gaze.json's "totals" of a whole-frame run (one chunk, one tile): `report.totals` (slots kept, losses,
    mean PSNR, exact frames, SSIM) and `report.loss_check` (of `rows`, its metrics rows, made here if not
    given) with the frames, the one tile and `seconds` (stage -> s)."""
    rows = report.clip_rows(gaze, rec) if rows is None else rows
    checked = loss_check(rows, gaze.settings, rec.reconstructor, own_mean(own_loss(gaze.select([0]))))
    return {
        "frames": gaze.num_frames,
        "tiles": 1,
        **report.totals(gaze, rec),
        **checked,
        "seconds": {k: round(v, 4) for k, v in seconds.items()},
    }


def own_loss(gaze: GazeResult) -> list:
    """[sum, count] of the gazer's own per-(clip, frame) loss (`frame_loss`, NaN left out); [0, 0] if it has none."""
    if gaze.frame_loss is None or gaze.loss_kind not in report.LOSS_KINDS:
        return [0.0, 0]
    values = gaze.frame_loss.double().numpy()
    return [float(np.nansum(values)), int(np.isfinite(values).sum())]


def own_mean(total: list) -> float | None:
    """The mean of an `own_loss` [sum, count]; None for no values."""
    return total[0] / total[1] if total[1] else None


def preview_size(height: int, width: int, preview_width: int | None = PREVIEW_WIDTH) -> tuple[int, int]:
    """(h, w) of the written videos: the frame's size, shrunk to `preview_width` wide if larger; sides even."""
    if not preview_width or width <= preview_width:
        return height + height % 2, width + width % 2
    h = max(2, 2 * round(height * preview_width / width / 2))
    return h, preview_width + preview_width % 2


def run_video(
    frames: Iterable[np.ndarray],
    gazer,
    reconstructor,
    out: Path,
    *,
    fps: float,
    tile: int | None = None,
    batch_size: int = 8,
    gazing_ratio: float | None = None,
    task_loss_requirement: float | None = None,
    preview_width: int | None = PREVIEW_WIDTH,
    total_frames: int | None = None,
    source: dict[str, Any] | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    written: Callable[[float, int | None], None] | None = None,
) -> RunTotals:
    """Gaze, rebuild and write a whole video into the folder `out` (see the module docstring).

    Args:
        frames: uint8 chunks (t, H, W, 3) or frames (H, W, 3) in order (e.g. `FrameStream.chunks`).
        gazer, reconstructor: a loaded `Gazer` and `Reconstructor`.
        out: an existing folder (a staging folder: the caller moves it into place when this returns).
        fps: the written videos' frame rate.
        tile: tile side in frame pixels (None: the whole frame as one tile).
        batch_size: clips (chunk x tile) gazed, and rebuilt, together.
        gazing_ratio, task_loss_requirement: as in `Gazer.gaze`.
        preview_width: the written videos' width for wider frames (None: the frame's width).
        total_frames: the frame count, for progress.
        source: what was read (path, read size, ...), recorded in gaze.json.
        progress: called as progress(done_clips, total_clips or None) as clips are gazed.
        written: called as written(done_clips, total_clips or None) as clips are rebuilt, drawn and written
            (`done_clips` a float: a clip's rebuild counts half, its chunk's frames drawn the other half), so
            that it reaches the total only once the last chunk's overlay, rows and gaze.json entry are out.
    """
    out = Path(out)
    totals = RunTotals()
    vg = VideoGazer(gazer, tile=tile, batch_size=batch_size)

    def total_clips(chunk: ChunkGaze) -> int | None:
        return clip_count(total_frames, chunk.layout, vg.chunk_len) if total_frames else None

    finished = 0  # clips rebuilt, drawn and written (for `written`)
    started = time.perf_counter()
    with (
        VideoWriter(out / "overlay.mp4", fps) as overlay,
        VideoWriter(out / "reconstruction.mp4", fps) as rebuilt,
        MetricsCsv(out / "metrics.csv") as rows,
        GazeJson(out / "gaze.json") as js,
    ):
        for chunk in vg.chunks(
            timed_items(frames, totals.seconds), gazing_ratio, task_loss_requirement, progress, total_frames
        ):
            totals.seconds["gaze"] += time.perf_counter() - started  # decoding included; taken out at the end
            if totals.frames == 0:
                totals.settings = {
                    **vg.settings(gazing_ratio, task_loss_requirement),
                    "threshold_unit": gazer.threshold_unit,
                }
                totals.reconstructor, totals.loss_kind = reconstructor.name, chunk.gaze.loss_kind
                js.begin(gaze_json_head(source, chunk.layout, gazer.name, reconstructor.name, totals.settings))
            total = total_clips(chunk)  # bound now: the chunk is deleted below
            _write_chunk(
                chunk,
                reconstructor,
                batch_size,
                preview_width,
                overlay,
                rebuilt,
                rows,
                js,
                totals,
                done=lambda clips, total=total: written and written(finished + clips, total),
            )
            finished += chunk.layout.num_tiles
            del chunk  # let it go before the next chunk is decoded
            started = time.perf_counter()
        totals.seconds["gaze"] -= totals.seconds["decode"]
        js.end({"totals": totals.to_json()})
    return totals


def timed_items(items: Iterable[Any], seconds: dict[str, float]) -> Iterable[Any]:
    """The items of `items`, adding the time spent producing them (decoding) to seconds["decode"]."""
    it, end = iter(items), object()
    while True:
        start = time.perf_counter()
        item = next(it, end)
        seconds["decode"] += time.perf_counter() - start
        if item is end:
            return
        yield item
        del item  # not held while the next one is decoded


def _write_chunk(
    chunk: ChunkGaze,
    reconstructor,
    batch_size: int,
    preview_width,
    overlay: VideoWriter,
    rebuilt: VideoWriter,
    rows: MetricsCsv,
    js: "GazeJson",
    totals: RunTotals,
    done: Callable[[float], Any] = lambda clips: None,
) -> None:
    """Rebuild one chunk's tiles in batches, draw and write its frames, its gaze.json entry and its rows.

    `done(clips)` reports how much of the chunk's N tile clips is finished: half of each as it is rebuilt, the
    other half as the frames are drawn, and N once its rows and gaze.json entry are written.

    Memory: one batch of tile clips (cut from the frames as the batch needs them) and its rebuild, and
    preview-sized frames; the frames at their own size are only read, one at a time when drawn.
    """
    layout, gaze, T = chunk.layout, chunk.gaze, chunk.num_frames
    h, w = preview_size(layout.height, layout.width, preview_width)
    start = time.perf_counter()
    canvas = np.empty((T, h, w, 3), dtype=np.uint8)
    loss = np.zeros((layout.num_tiles, T), np.float32)
    psnr = np.zeros((layout.num_tiles, T), np.float32)
    terms: dict[str, np.ndarray] = {}  # the loss's terms, (N, T) each
    for lo in range(0, layout.num_tiles, batch_size):
        part = list(range(lo, min(layout.num_tiles, lo + batch_size)))
        with input_limits(**NO_LIMITS):  # batch_size tile clips of one chunk: bounded by the run's settings
            rec = reconstructor.reconstruct(chunk.tiles[part], gaze.select(part))
        loss[part], psnr[part] = rec.loss.numpy(), rec.psnr.numpy()
        for name, term in rec.terms.items():
            terms.setdefault(name, np.zeros((layout.num_tiles, T), np.float32))[part] = term.numpy()
        _place(canvas, rec.frames.numpy(), layout, part)
        del rec
        done(0.5 * part[-1] + 0.5)
    totals.seconds["reconstruct"] += time.perf_counter() - start
    start = time.perf_counter()
    mask = gaze.slot_mask()  # (N, T, S)
    for t in range(T):  # frame by frame: a float copy of one native frame at a time, not of the chunk
        preview = resize_frames(chunk.frames[t], (h, w))
        finest = frame_coverage(mask[:, t], gaze.grid, layout, h, w)
        drawn = paint_scales(preview[None], finest[None], gaze.grid.num_scales)
        if layout.num_tiles > 1:
            _draw_grid(drawn, layout)
        overlay.write(drawn)
        done(layout.num_tiles * (0.5 + 0.5 * t / T))  # the chunk's last half is counted once its rows are out
    rebuilt.write(canvas)
    new_rows = metrics_rows(gaze, loss, psnr, terms=terms, start=chunk.start)
    rows.add(new_rows)
    totals.rows += new_rows
    totals.own_loss = [a + b for a, b in zip(totals.own_loss, own_loss(gaze))]
    js.add(chunk_entry(chunk.start, gaze, layout, loss, psnr))
    totals.frames += T
    totals.tiles = layout.num_tiles
    totals.slots_kept += gaze.num_gazed
    totals.slots_total += T * layout.num_tiles * gaze.grid.num_slots
    totals.loss_sum += float(loss.sum())
    totals.psnr += psnr.flatten().tolist()
    totals.seconds["write"] += time.perf_counter() - start
    done(layout.num_tiles)


def chunk_entry(
    start: int, gaze: GazeResult, layout: TileLayout, loss: np.ndarray, psnr: np.ndarray, ssim: np.ndarray | None = None
) -> dict[str, Any]:
    """gaze.json's entry for one chunk: per tile its box, its gaze (`to_json`, ids on the tile's canvas), its
    boxes in frame pixels per frame, and its rebuild's per-frame loss, PSNR (null = exact) and SSIM if given.

    Args:
        start: the chunk's first frame among the frames gazed.
        gaze: B = N tiles, T frames.
        loss, psnr, ssim: (N, T) per tile and frame.
    """
    T = gaze.num_frames
    found = [_boxes_by_tile(tile_boxes(gaze, layout, t), layout.num_tiles) for t in range(T)]  # per frame, per tile
    places = layout.tile_boxes()
    tiles = []
    for k in range(layout.num_tiles):
        rebuilt = {
            "loss": [round(float(v), 6) for v in loss[k]],
            "psnr_db": [round(float(v), 4) if np.isfinite(v) else None for v in psnr[k]],
        }
        if ssim is not None:
            rebuilt["ssim"] = [round(float(v), 6) for v in ssim[k]]
        tiles.append(
            {
                "tile": k,
                "box": places[k].tolist(),
                "gaze": gaze.clip(k).to_json(),
                "boxes": [frame[k] for frame in found],  # per frame: [y0, x0, y1, x1, scale] in frame pixels
                "reconstruction": rebuilt,
            }
        )
    return {"start": int(start), "num_frames": T, "tiles": tiles}


def gaze_json_head(
    source: dict[str, Any] | None, layout: TileLayout, gazer: str, reconstructor: str, settings: dict[str, Any]
) -> dict[str, Any]:
    """gaze.json's header (`GAZE_FORMAT`): what was read, the layout, the models and the settings."""
    return {
        "format": GAZE_FORMAT,
        "source": source or {},
        "read_size": [layout.width, layout.height],
        "layout": layout.to_json(),
        "gazer": gazer,
        "reconstructor": reconstructor,
        "settings": settings,
    }


def write_clip_gaze_json(
    path: Path,
    gaze: GazeResult,
    rec,
    read_size: tuple[int, int],
    source: dict[str, Any] | None = None,
    totals: dict[str, Any] | None = None,
) -> Path:
    """gaze.json of a whole-frame run: the one-chunk, one-tile case of `run_video`'s, written by the same
    `GazeJson`. `read_size`: (W, H) of the frames gazed; `totals`: `clip_totals` (made here if not given)."""
    layout = tile_layout(int(read_size[1]), int(read_size[0]))
    with GazeJson(path) as js:
        js.begin(gaze_json_head(source, layout, gaze.gazer, rec.reconstructor, dict(gaze.settings)))
        js.add(chunk_entry(0, gaze, layout, rec.loss.numpy(), rec.psnr.numpy(), rec.ssim.numpy()))
        js.end({"totals": totals if totals is not None else clip_totals(gaze, rec, {**gaze.seconds, **rec.seconds})})
    return Path(path)


def read_gaze_json(path: Path | str) -> dict[str, Any]:
    """A run's gaze.json in the current schema (`GAZE_FORMAT`), older files upgraded: an untiled run's bare
    `GazeResult.to_json()` with its "reconstruction" becomes one chunk of one tile, and "playground.tiled-gaze/1"
    (the same layout) takes the new format name. Raises PlaygroundError (one line) for anything else."""
    data = jsonio.read_json(Path(path))
    check(isinstance(data, dict), f"{Path(path).name} is not a gaze.json: it holds no JSON object")
    form = data.get("format")
    if form in (GAZE_FORMAT, TILED_FORMAT_1):
        return {**data, "format": GAZE_FORMAT}
    if form is None and "gazing_pos" in data:
        return _upgrade_untiled(data)
    raise PlaygroundError(
        f"{Path(path).name} is not a gaze.json this version reads (format {form!r}; "
        f"it reads {GAZE_FORMAT}, {TILED_FORMAT_1} and the untiled files before them)"
    )


def _upgrade_untiled(data: dict[str, Any]) -> dict[str, Any]:
    """An untiled run's gaze.json before GAZE_FORMAT (the gaze's dict, its "reconstruction" and "read_size")
    as one chunk of one tile of the current schema (boxes left empty: they were not written then)."""
    gaze = {k: v for k, v in data.items() if k not in ("reconstruction", "read_size")}
    old = data.get("reconstruction") or {}
    T = len(gaze.get("num_gazing_each_frame") or [])
    width, height = data.get("read_size") or (0, 0)
    # Those files wrote the per-frame lists and then the totals into one dict: the means of PSNR and SSIM
    # took the lists' keys, so only the per-frame losses survive there.
    rebuilt = {k: v for k, v in old.items() if isinstance(v, list)}
    totals = {k: v for k, v in old.items() if k != "name" and not isinstance(v, list)}
    return {
        "format": GAZE_FORMAT,
        "source": {},
        "read_size": [width, height],
        "layout": {
            "height": height,
            "width": width,
            "tile": 0,
            "overlap": 0,
            "rows": 1,
            "cols": 1,
            "origins": [[0, 0]],
        },
        "gazer": gaze.get("gazer"),
        "reconstructor": old.get("name"),
        "settings": gaze.get("settings", {}),
        "chunks": [
            {
                "start": 0,
                "num_frames": T,
                "tiles": [
                    {"tile": 0, "box": [0, 0, height, width], "gaze": gaze, "boxes": [], "reconstruction": rebuilt}
                ],
            }
        ],
        "totals": {"frames": T, "tiles": 1, **totals},
    }


def tile_gazes(data: dict[str, Any]) -> list[list[GazeResult]]:
    """Per chunk, per tile, the `GazeResult` a gaze.json (`read_gaze_json`) holds."""
    return [[GazeResult.from_json(tile["gaze"]) for tile in chunk["tiles"]] for chunk in data["chunks"]]


def _boxes_by_tile(found: dict[str, np.ndarray], num_tiles: int) -> list[list]:
    """One frame's `tile_boxes` -> per tile, its [y0, x0, y1, x1, scale] rows (the tiles come in order)."""
    rows = np.concatenate([found["boxes"], found["scale"][:, None].astype(np.int64)], 1).tolist()
    bounds = np.searchsorted(found["tile"], np.arange(num_tiles + 1)).tolist()
    return [rows[bounds[k] : bounds[k + 1]] for k in range(num_tiles)]


def _place(canvas: np.ndarray, rebuilt: np.ndarray, layout: TileLayout, tiles: list[int]) -> None:
    """Put rebuilt tiles (len(tiles), T, c, c, 3) at their places on a preview canvas (T, h, w, 3).

    One tile at a time: resizing a batch together holds its float copies at the preview size (+390 MiB
    for 8 tiles of 480 px on a 1080p frame) for no gain in speed.
    """
    h, w = canvas.shape[1:3]
    for tile_frames, k in zip(rebuilt, tiles):
        top, left, bottom, right = layout.extent(k, h, w)
        if bottom <= top or right <= left or top >= h or left >= w:
            continue
        piece = resize_frames(tile_frames, (bottom - top, right - left))
        region = canvas[:, top:bottom, left:right]
        region[...] = piece[:, : region.shape[1], : region.shape[2]]


def _draw_grid(frames: np.ndarray, layout: TileLayout) -> None:
    """One-pixel lines at the tile edges, in place on (T, h, w, 3) preview frames."""
    h, w = frames.shape[1:3]
    for k in range(layout.num_tiles):
        top, left = layout.extent(k, h, w)[:2]
        if 0 < top < h:
            frames[:, top, :] = GRID_RGB
        if 0 < left < w:
            frames[:, :, left] = GRID_RGB


class GazeJson:
    """gaze.json written as the chunks pass (the one writer of `GAZE_FORMAT`): a header object whose "chunks"
    list grows, then the tail."""

    def __init__(self, path: Path):
        self.path, self.file, self.count = Path(path), None, 0

    def __enter__(self) -> "GazeJson":
        self.file = open(self.path, "w")
        return self

    def begin(self, head: dict[str, Any]) -> None:
        text = json.dumps(head)
        self.file.write(text[:-1] + ', "chunks": [')

    def add(self, entry: dict[str, Any]) -> None:
        self.file.write(("," if self.count else "") + json.dumps(entry))
        self.count += 1

    def end(self, tail: dict[str, Any]) -> None:
        check(self.count > 0, "the video has zero frames")
        self.file.write("], " + json.dumps(tail)[1:])

    def __exit__(self, *exc) -> None:
        self.file.close()
