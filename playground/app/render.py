"""Turn finished runs into what the page shows: videos, the frame scrubber's panels, figures, text.

Pictures and figures come from `playground.viz`; this module only arranges them for the app
(file names, the scrubber's cached panels, the markdown summary, the MLLM cost table and chart).
Every run (`pipeline.Run`) renders through `render_run` into one `RunView`, one summary
(`summary_markdown`) and one set of figures (`run_figures`). A whole-frame run (one chunk, one tile) has
its videos and tables written here and its frames kept for the scrubber; a tiled run has written its own
videos and tables, and its figures are drawn from its metrics rows, held in memory.
"""

from __future__ import annotations

import math
import textwrap
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .. import run_card, viz
from ..errors import PlaygroundError, check
from ..geometry import DEFAULT_GRID
from ..knobs import NUM_FRAMES
from ..mllm.answer import FLOP_ROWS, TIME_ROWS, comparison_rows
from ..report import LOSS_KINDS, loss_check_text, psnr_words, scale_totals
from ..video import READ_SIDE, read_clip, write_video
from . import cache, pipeline
from .export import EXPORT_FILES, TILED_EXPORT_FILES, write_run_card, write_tables
from .limits import Limits
from .pipeline import Curve, Run, RunSettings

PRESET = "ultrafast"  # x264 preset: ~5x faster than the default for ~2x the bytes, which short clips can afford


@dataclass
class ViewFrames:
    """The arrays of a rendered run that the scrubber and the curve redraw from."""

    run: Run
    overlay: np.ndarray  # (T, H, W, 3) uint8 gazed patches over the original frames
    rebuilt: np.ndarray  # (T, H, W, 3) uint8 reconstruction stretched back to the frames' size


@dataclass
class RunView:
    """A rendered run as a session keeps it (in a `gr.State`): its summary, its files, and where its frames are.

    A whole-frame run's frames (`run`, `overlay`, `rebuilt`) live in `cache.VIEWS`, bounded in bytes, so that
    however many sessions there are, each holds only this small record; a view whose frames were evicted
    rebuilds them from its video and settings, through the frame, gaze and rebuild caches. A tiled run's
    view holds no frames (`key` None): `run_video` wrote the videos, and the views that need one whole-frame
    clip (the frame scrubber, the threshold curve) say that they are not available with tiles.
    """

    key: str | None  # this run's entry in cache.VIEWS; None for a tiled run
    source: Path  # the video file the run read
    settings: RunSettings
    clip_key: tuple  # the clip's cache identity (file identity and sampling) when it was rendered
    folder: Path  # where this run's files live
    overlay_video: Path  # overlay.mp4 (with tiles: the tile grid drawn)
    compare_video: Path  # original | reconstruction side by side (with tiles: reconstruction.mp4)
    files: list[Path]  # every export
    summary: str  # the run's markdown summary (`summary_markdown`)
    num_frames: int  # frames gazed

    @property
    def whole_clip(self) -> bool:
        """One whole-frame clip, whose frames the scrubber and the curve can use."""
        return self.key is not None

    @property
    def frames(self) -> ViewFrames:
        check(self.whole_clip, f"the frames are {NOT_WITH_TILES}")
        return cache.VIEWS.get(self.key, self._redo)

    @property
    def run(self) -> Run:
        return self.frames.run

    @property
    def overlay(self) -> np.ndarray:
        return self.frames.overlay

    @property
    def rebuilt(self) -> np.ndarray:
        return self.frames.rebuilt

    def _redo(self) -> ViewFrames:
        try:
            run = pipeline.run(self.source, self.settings, Limits.from_env())
        except PlaygroundError:
            run = None
        if run is None or run.clip.key != self.clip_key:
            raise PlaygroundError("this result's video is no longer on the server; press Gaze again")
        return view_frames(run)


def view_frames(run: Run) -> ViewFrames:
    """The overlay and the rebuilt frames of `run`, with the run."""
    return ViewFrames(run, viz.overlay_frames(run.clip.frames, run.gaze), rebuilt_frames(run))


def rebuilt_frames(run: Run) -> np.ndarray:
    """The reconstruction (square canvas) resized back to the frames' aspect: (T, H, W, 3) uint8."""
    return run_card.rebuilt_frames(run.clip.frames, run.reconstruction)


def render_run(run: Run, folder: Path, card: dict[str, Any]) -> RunView:
    """Write what the run has not written yet into `folder`, and keep its summary and its files.

    A tiled run wrote its videos and tables as it ran (into `run.folder`): only its card is added. A
    whole-frame run's three MP4s are encoded by three ffmpeg processes at once (encoding, not Python, is the
    slow part of a render) while its tables are written here, and the scrubber's panels are kept.
    """
    source = Path(run.clip.key[0][0])  # a clip's key starts with its file's identity: (resolved path, size, mtime)
    T, summary = int(run.totals["frames"]), summary_markdown(run)
    if not run.whole_clip:
        folder = run.folder
        write_run_card(card, folder / "run_card.json")
        return RunView(
            None,
            source,
            run.settings,
            run.clip.key,
            folder,
            folder / "overlay.mp4",
            folder / "reconstruction.mp4",
            [folder / name for name in TILED_EXPORT_FILES],
            summary,
            T,
        )
    frames = view_frames(run)
    overlay, rebuilt = frames.overlay, frames.rebuilt
    key = uuid.uuid4().hex
    cache.VIEWS.get(key, lambda: frames)
    compare = viz.side_by_side(run.clip.frames, rebuilt, labels=["original", f"rebuilt ({run.settings.reconstructor})"])
    videos = {
        "overlay.mp4": overlay,
        "reconstruction.mp4": rebuilt,  # at the clip's aspect, not the square canvas
        "original_vs_reconstruction.mp4": compare,
    }
    with ThreadPoolExecutor(max_workers=len(videos)) as pool:
        jobs = [
            pool.submit(write_video, folder / name, frames, run.clip.fps, preset=PRESET)
            for name, frames in videos.items()
        ]
        write_tables(run, card, folder)
        for job in jobs:
            job.result()  # re-raises a failed write
    return RunView(
        key,
        source,
        run.settings,
        run.clip.key,
        folder,
        folder / "overlay.mp4",
        folder / "original_vs_reconstruction.mp4",
        [folder / name for name in EXPORT_FILES],
        summary,
        T,
    )


def frame_panel(view: RunView, index: int) -> np.ndarray:
    """Frame `index`: original | gazed overlay | reconstruction, labelled, (H, W', 3) uint8; a tiled run's
    frame 0 (`tiled_panel`)."""
    if not view.whole_clip:
        return tiled_panel(view)
    T = len(view.overlay)
    t = int(min(max(int(index or 0), 0), T - 1))
    gaze = view.run.gaze
    counts = gaze.counts()[0, t].item()
    return viz.side_by_side(
        view.run.clip.frames[t : t + 1],
        view.overlay[t : t + 1],
        view.rebuilt[t : t + 1],
        labels=[f"frame {t}", f"gazed: {counts}/{gaze.grid.num_slots} slots", "reconstruction"],
    )[0]


TITLE_CHARS = 44  # a title longer than this is wrapped: a half-width panel clips it otherwise


def fit(fig, height: int = 380):
    """Lay a figure out for a half-width panel: legend below the x-axis title (not over it), tight margins,
    a long title wrapped onto two lines, and a one-frame plot drawn readably (`one_point`)."""
    title = fig.layout.title.text or ""
    wrapped = (
        "<br>".join(textwrap.wrap(title, TITLE_CHARS)) if len(title) > TITLE_CHARS and "<br>" not in title else title
    )
    fig.update_layout(
        height=height,
        margin=dict(l=50, r=50, t=50 + 20 * wrapped.count("<br>"), b=110),
        legend=dict(orientation="h", yanchor="top", y=-0.3, xanchor="left", x=0),
    )
    if wrapped != title:
        fig.update_layout(title_text=wrapped)
    return one_point(fig)


def one_point(fig):
    """A per-frame plot of one frame: large markers, the frame centred on a one-frame-wide axis with one
    tick, and a note saying so (else plotly draws a lone dot at an arbitrary zoom)."""
    xs = {
        float(x)
        for trace in fig.data
        if getattr(trace, "x", None) is not None and trace.type in ("scatter", "bar")
        for x in trace.x
        if isinstance(x, (int, float, np.number))
    }
    if len(xs) != 1 or fig.layout.xaxis.title.text != "frame":
        return fig
    x = xs.pop()
    fig.update_traces(marker_size=14, selector=dict(type="scatter"))
    fig.update_layout(xaxis=dict(range=[x - 1, x + 1], tickvals=[x]))
    fig.add_annotation(
        text="one frame", xref="paper", yref="paper", x=1, y=1, xanchor="right", yanchor="bottom", showarrow=False
    )
    return fig


def summary_markdown(run: Run) -> str:
    """A short report of any run, from its totals and metrics rows: what was read (and the tiles), slots kept
    (per scale), the threshold and what it meant, the gazer's loss beside the measured one with the frames
    over the threshold, the rebuild's loss and PSNR (SSIM where measured: one whole clip) and time."""
    t, clip, s, layout = run.totals, run.clip, run.settings, run.layout
    T, kept, total, tiles = int(t["frames"]), int(t["slots_kept"]), int(t["slots_total"]), int(t["tiles"])
    whole = layout.whole_frame
    short = f"; the video holds only {T} of the {s.num_frames} frames asked for" if T < s.num_frames else ""
    canvas = DEFAULT_GRID.canvas
    read = (
        f"(the gazer resizes them to {canvas}x{canvas})"
        if whole
        else f"(the native size) as **{layout.describe()}**, each tile resized to the gazer's {canvas} px input and "
        f"every 16-frame chunk of every tile gazed on its own"
    )
    scales = ", ".join(f"{name[6:-2]} px: {n}" for name, n in scale_totals(run.rows).items())
    per_tile = "" if whole else f" over {tiles} tile(s)"
    per_frame = f"{kept / max(1, T):.1f} per frame" + (
        "" if whole else f" ({kept / max(1, T * tiles):.1f} per frame and tile)"
    )
    stop = run.gaze_settings.get("stop")
    ssim = f", SSIM {t['ssim']:.3f}" if t.get("ssim") is not None else ""
    seconds = {
        "read": run.seconds.get("read", 0.0),
        **{name: t["seconds"][key] for key, name in TIMED.items() if key in t["seconds"]},
    }
    check_text = loss_check_text(t)
    lines = [
        f"**{clip.name}**: {T} frames read at {clip.read_size[0]}x{clip.read_size[1]} px {read}, played at "
        f"{clip.fps:.1f} fps{short}",
        f"**{run.gazer}** kept **{kept} of {total} slots ({100 * kept / max(1, total):.1f} %)**{per_tile}, "
        f"{per_frame} ({scales})",
        f"threshold {s.threshold:g}{' (off)' if s.task_loss_requirement is None else ''}, gazing ratio "
        f"{s.gazing_ratio:g}{'' if whole else ' (per tile)'}{f', {stop} stop' if stop else ''}: {t['threshold_note']}",
        *([] if check_text is None else [("**" + check_text + "**") if t.get("frames_over_threshold") else check_text]),
        f"**{run.reconstructor}**: loss {t['reconstruction_loss']:.4f}, PSNR "
        f"{psnr_words(t['psnr_db'], int(t['exact_frames']), T * tiles)}{ssim}"
        + ("" if whole else " (mean over frames and tiles)"),
        "time: " + ", ".join(f"{k} {v:.2f} s" for k, v in seconds.items()),
    ]
    if not whole:
        lines += [
            *frame_limit_lines(run),
            "*With tiles: the left video is the gazed patches over the original frames with the tile grid, "
            "the right one the reconstruction; the frame scrubber, the threshold curve and SSIM need one "
            "whole-frame clip (tile size 0); Ask and Compare gazers read the whole frame.*",
        ]
    return "\n\n".join(lines)


TIMED = {"gaze": "gaze", "reconstruct": "rebuild", "write": "draw+write"}  # a run's seconds, as the summary names them


def run_figures(run: Run) -> tuple:
    """(slots per frame by scale, loss and PSNR per frame, PSNR and SSIM per frame) of any run, drawn from its
    metrics rows (one body: one whole clip is one tile; with tiles, summed or averaged over them), laid out
    for a half-width panel. A column a run does not measure (SSIM with tiles) is left out of its figure."""
    rows = run.rows
    if not rows:
        raise PlaygroundError("the run gazed no frame")
    frames = [int(r["frame"]) for r in rows]
    return tuple(fit(fig) for fig in (slots_figure(run, frames), loss_figure(run, frames), quality_figure(run, frames)))


def column(rows: list[dict], name: str) -> list | None:
    """A metrics column's values, None where a row has none; None if no row has one."""
    values = [r.get(name) for r in rows]
    return None if all(v is None for v in values) else values


def slots_figure(run: Run, frames: list[int]):
    """Gazed slots per frame, stacked by scale (coarsest at the bottom), summed over the tiles."""
    per_tile = int(run.totals["slots_total"]) // max(1, int(run.totals["frames"]))
    names = scale_totals(run.rows)  # gazed_<scale>px, coarsest first
    counts = [[int(r[name]) for name in names] for r in run.rows]
    scales = [name[6:-2] for name in names]
    return viz.fig_slots_per_frame(frames, counts, scales, per_tile, tiles=int(run.totals["tiles"]))


def loss_figure(run: Run, frames: list[int]):
    """Loss per frame: the gazer's own trace (predicted or measured) beside the measured loss, the threshold
    when it is a loss, the frames measured over it by more than 25 % marked, and PSNR on a second axis."""
    rows, t = run.rows, run.totals
    kind = t.get("loss_kind")
    return viz.fig_loss_per_frame(
        frames,
        [r["reconstruction_loss"] for r in rows],
        [r["psnr_db"] for r in rows],
        own=column(rows, f"{kind}_loss") if kind in LOSS_KINDS else None,
        own_kind=kind,
        gazer=run.gazer,
        reconstructor=run.reconstructor,
        threshold=viz.loss_threshold(run.gaze_settings),
        flagged=t.get("frames_over_threshold") or (),
        suffix="" if int(t["tiles"]) == 1 else ", mean over tiles",
    )


def quality_figure(run: Run, frames: list[int]):
    """PSNR per frame, and SSIM where the run measured it (one whole clip), from the metrics rows."""
    ssim = column(run.rows, "ssim")
    title = "PSNR and SSIM per frame" if ssim is not None else "PSNR per frame, mean over tiles (no SSIM with tiles)"
    return viz.fig_psnr_per_frame(frames, [r["psnr_db"] for r in run.rows], ssim, title=title)


def curve_figure(curve: Curve | None, threshold: float | None = None, gazer: str = ""):
    """The slots-vs-threshold curve with the current threshold marked (0 = off, marked at 0).

    `curve` None means the gazer ignores the threshold: the figure says so instead of sweeping.
    """
    if curve is None:
        return message_figure(
            "Tokens kept vs threshold", f"{gazer or 'this gazer'} ignores the threshold: only the budget decides"
        )
    psnr = [None if math.isinf(p) else p for p in curve.psnr]
    fig = viz.fig_threshold_curve(curve.thresholds, curve.kept_fraction, psnr)
    current = float(threshold or 0.0)
    fig.add_vline(x=current, line_dash="dash", annotation_text="current" if current else "current (off)")
    return fig


def message_figure(title: str, text: str):
    """An empty figure that says why it is empty."""
    fig = go.Figure()
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False)
    fig.update_layout(title=title, xaxis=dict(visible=False), yaxis=dict(visible=False))
    return fig


def comparison_figures(rows: Sequence[dict], results: dict[str, tuple[Any, Any]]):
    """(bars of slots kept and PSNR per gazer, PSNR per frame per gazer)."""
    bars = viz.fig_gazer_comparison(
        [
            {
                "gazer": r["gazer"],
                "kept_fraction": r["kept_%"] / 100,
                "psnr": None if math.isinf(r["psnr_db"]) else r["psnr_db"],
            }
            for r in rows
        ]
    )
    lines = go.Figure()
    for name, (gaze, rec) in results.items():
        psnr = viz.drawable(rec.psnr[0].tolist())
        lines.add_trace(go.Scatter(x=rec.frame_indices.numpy(), y=psnr, mode="lines+markers", name=name))
    lines.update_layout(title="PSNR per frame at the same budget", xaxis_title="frame", yaxis_title="PSNR (dB)")
    return bars, lines


# A column's colour on the Ask tab's chart (Okabe-Ito): gazed, full, then the post-ViT pruning conditions in order.
ANSWER_COLORS = ("rgb(213,94,0)", "rgb(0,114,178)", "rgb(0,158,115)", "rgb(204,121,167)", "rgb(86,180,233)")


def answer_rows(answers: dict[str, Any]) -> list[list[Any]]:
    """Rows of the Ask tab's table, one column per answer (name -> Answer): `comparison_rows`, as CLI `ask`
    prints them (tokens, GFLOPs per stage with the attention as a sub-row of the encoder and the gazer's in the
    total, how the FLOPs were counted, seconds per stage), rounded to 3 decimals."""

    def value(kind: str, v: Any) -> Any:
        if v is None or kind in ("tokens", "count", "source"):
            return v
        return round(v / 1e9, 3) if kind == "flops" else round(v, 3)

    return [
        [label, *(value(kind, v) for v in values)] for label, kind, values in comparison_rows(list(answers.values()))
    ]


def answer_figure(answers: dict[str, Any]):
    """Grouped bars per stage: GFLOPs (left) and seconds (right), one colour per answer (name -> Answer)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("GFLOPs per stage", "seconds per stage"))
    stages = [s for s in FLOP_ROWS if s != "vision_attention"]
    for (name, answer), color in zip(answers.items(), ANSWER_COLORS):
        flops = [None if answer.best_flops(s) is None else answer.best_flops(s) / 1e9 for s in stages]
        fig.add_trace(go.Bar(x=stages, y=flops, name=name, marker_color=color, legendgroup=name), row=1, col=1)
        fig.add_trace(
            go.Bar(
                x=list(TIME_ROWS),
                y=[answer.seconds.get(s) for s in TIME_ROWS],
                name=name,
                marker_color=color,
                legendgroup=name,
                showlegend=False,
            ),
            row=1,
            col=2,
        )
    fig.update_layout(barmode="group", title=" vs ".join(answers) + ": cost per stage")
    return fig


# ---- tiled runs ------------------------------------------------------------------------------------
NOT_WITH_TILES = "not available with tiles (it needs one whole-frame clip): set the tile size to 0"


def frame_limit_lines(run: Run) -> list[str]:
    """What limits a tiled run's frame count when the decode limit allows fewer than the default 16 frames at
    this size, and how to raise it; and what one frame shows."""
    lines = []
    H, W = run.clip.frames.shape[1:3]
    fit, limit = run.frames_fit, run.max_decode_pixels
    if fit is not None and limit is not None and fit < NUM_FRAMES:
        want = max(run.settings.num_frames, NUM_FRAMES)
        lines.append(
            f"**Frames are limited at this size:** tiles read frames at the native size, and this server "
            f"decodes at most {limit:,} pixels a run, so **{fit} frame(s) of {W}x{H} px** fit. To read "
            f"{want}, set `PLAYGROUND_APP_MAX_DECODE_PIXELS` to {want * W * H:,} or more when self-hosting "
            f"(about {want * W * H * 3 / 2**30:.1f} GiB of frames), or use tile size 0 (frames read at "
            f"{READ_SIDE} px)."
        )
    if int(run.totals["frames"]) == 1:
        lines.append("*One frame: the videos hold a single frame, the panel below shows it, and each plot one point.*")
    return lines


def tiled_panel(view: RunView) -> np.ndarray:
    """Frame 0 of a tiled run as the panel shows it: the gazed patches with the tile grid | the reconstruction,
    read back from the videos `run_video` wrote (the scrubber, which needs one whole-frame clip, stays off)."""
    first = [
        read_clip(path, num_frames=1, max_side=None, max_pixels=None)[0]
        for path in (view.overlay_video, view.compare_video)
    ]
    return viz.side_by_side(*first, labels=["frame 0: gazed, tile grid", "reconstruction"])[0]
