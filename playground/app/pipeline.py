"""What the app computes, without any Gradio: read a clip, gaze, rebuild, sweep, compare, ask.

`run` is the one gaze run, a `Run` either way: at tile size 0 the whole frame read at READ_SIDE is gazed
as one clip (the run's one chunk and one tile, kept in memory and cached, so a knob move is quick); with a
tile size (`RunSettings.tile`) the clip is read at its native size and goes through the CLI's own
whole-video path (`playground.video_run.run_video`, as `gaze --tile PX` does) into a folder.

Every function takes plain values and a `progress(fraction, desc=...)` callable (Gradio's
`gr.Progress` fits it), raises `PlaygroundError` for bad input, and goes through the caches in
`cache.py`, so a slider move re-uses the decoded frames and the loaded models.
"""

from __future__ import annotations

import copy
import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import knobs
from ..errors import PlaygroundError, check, finite_number
from ..evaluation.run import answer_conditions, parse_conditions
from ..gaze import GazeResult
from ..gazers import TRAINING_FREE_GAZERS, available_gazers, frame_budgets
from ..gazers.base import gaze_frames
from ..mllm.answer import MAX_ANSWER_TOKENS, attention_warning
from ..mllm.pruning import PRUNING_METHODS
from ..mllm.random_models import RANDOM_WEIGHTS_NOTE
from ..report import clip_rows, mean_psnr
from ..run_card import source_facts
from ..tiling import TileLayout, tile_layout
from ..video import MAX_SIDE, READ_SIDE, DecodeLimitError, probe_video, read_clip
from ..video_run import PREVIEW_WIDTH, clip_totals, run_video
from ..whole_video import BATCH_SIZE, clip_count
from . import cache
from .limits import Limits

Progress = Callable[..., Any]
CURVE_THRESHOLDS = (0.0, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0)  # 0 = off: the budget alone
# the calibration view's sweep: requested thresholds (and, for a calibrated gazer, what they map to), one gaze each
CALIBRATION_THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.8)
# threads sweeping the curve's thresholds at once (each gaze runs torch ops on one thread): the cores, at most 4
SWEEP_WORKERS = max(1, min(4, os.cpu_count() or 1))
# What to change when a read is beyond a limit, in the app's words (see video.DecodeLimitError).
DECODE_REMEDIES = {
    "max_frame_pixels": "downscale the video first (to 4K, say)",
    "max_frames": "choose fewer frames (or raise $PLAYGROUND_APP_MAX_FRAMES when self-hosting)",
    "max_pixels": "choose fewer frames (or raise $PLAYGROUND_APP_MAX_DECODE_PIXELS when self-hosting)",
}
# With tiles the frames are read at their native size: a smaller read is tile size 0.
TILED_DECODE_REMEDIES = {
    **DECODE_REMEDIES,
    "max_pixels": "tiles read the video at its native size: choose fewer frames, or tile size 0 (frames read at "
    f"{READ_SIDE} px) (or raise $PLAYGROUND_APP_MAX_DECODE_PIXELS when self-hosting)",
}
MIN_TILE = 16  # smallest tile side in pixels (the CLI's --tile takes 16 and up too)
TILE_BATCH = (
    BATCH_SIZE  # clips (chunk x tile) gazed and rebuilt together in a tiled run: the CLI's --batch-size default
)


def no_progress(fraction: float | None = None, desc: str | None = None, **_: Any) -> None:
    """A progress callable that ignores its updates (for scripts and tests)."""


# The share of a gaze run's bar that reading, gazing and rebuilding (and, with tiles, drawing and writing) fill;
# the rest is the callback's render (the page's videos, figures and files), so the bar never sits full while
# work is left.
RUN_SHARE = 0.9


def scaled(progress: Progress, top: float) -> Progress:
    """`progress` with its fractions scaled into [0, top] (None, indeterminate, passed as is)."""
    return lambda fraction=None, desc=None, **kw: progress(
        None if fraction is None else top * fraction, desc=desc, **kw
    )


def warm_up() -> None:
    """Import the decoder and the encoder now (plotly comes with `render`), so that the first request does not wait."""
    # Imports at call time on purpose: this is the app's start-up step; `playground.video` imports them lazily.
    import decord  # noqa: F401
    import imageio_ffmpeg  # noqa: F401


@dataclass(frozen=True)
class RunSettings:
    """Every knob of one gaze run (the defaults are the app's defaults)."""

    num_frames: int = knobs.NUM_FRAMES  # frames sampled from the video
    fps: float = knobs.FPS  # sample at this rate; 0 spreads num_frames uniformly from `start` to the end
    start: float = 0.0  # start time in seconds
    gazer: str = knobs.GAZER  # training-free name, AutoGaze hub id or folder
    reconstructor: str = knobs.RECONSTRUCTOR  # `paint`, VideoMAE_AutoGaze hub id or path
    threshold: float = knobs.THRESHOLD  # task_loss_requirement; 0 turns it off (the budget alone decides)
    gazing_ratio: float = knobs.GAZING_RATIO  # cap on slots per frame as a fraction of the 265
    tile: int = 0  # tile side in px: frames read at their native size, every 16-frame chunk of every tile gazed
    #                (the CLI's `gaze --tile PX`); 0 = off, the whole frame read at READ_SIDE as one clip
    stop: str = knobs.STOP  # how a learned gazer ends a frame: "predicted" (its head) or "measured" (paint's loss)

    def checked(self, limits: Limits) -> "RunSettings":
        """A validated copy (names stripped, numbers in range, by the same checks as the CLI's); raises PlaygroundError."""
        start = finite_number(self.start, "start")
        check(start >= 0, f"start must be 0 or later, got {start:g} s")
        return replace(
            self,
            num_frames=limits.check_frames(self.num_frames),
            fps=knobs.fps(self.fps, "fps", allow_zero=True),
            start=start,
            threshold=knobs.threshold(self.threshold, "threshold"),
            gazing_ratio=knobs.gazing_ratio(self.gazing_ratio, "gazing ratio"),
            gazer=str(self.gazer or "").strip(),
            reconstructor=str(self.reconstructor or "").strip() or "paint",
            tile=check_tile(self.tile),
            stop=knobs.stop(self.stop, "stop", str(self.reconstructor or "").strip() or "paint"),
        )

    @property
    def read_side(self) -> int | None:
        """The long side frames are decoded to: READ_SIDE, or None (the native size) with tiles."""
        return None if self.tile else READ_SIDE

    @property
    def task_loss_requirement(self) -> float | None:
        """The threshold as the gazers take it (None when off)."""
        return knobs.threshold_or_off(self.threshold)


def check_tile(value) -> int:
    """The tile size: 0 (off) or a whole number of pixels in [MIN_TILE, MAX_SIDE]; raises PlaygroundError."""
    tile = knobs.whole_number(value, "tile size", 0, MAX_SIDE)
    check(
        tile == 0 or tile >= MIN_TILE,
        f"tile size must be 0 (the whole frame) or between {MIN_TILE} and {MAX_SIDE} px, got {tile}",
    )
    return tile


def frames_fit(size: tuple[int, int], settings: RunSettings, limits: Limits) -> int:
    """How many frames of a `size` (width, height) video one run may decode at the settings' read size
    (`limits.max_decode_pixels`, $PLAYGROUND_APP_MAX_DECODE_PIXELS), at most `limits.max_frames`."""
    width, height = size
    side = settings.read_side
    if side and max(width, height) > side:  # decoded to a long side of `side`, as read_clip does
        scale = side / max(width, height)
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
    return int(min(limits.max_frames, limits.max_decode_pixels // max(1, width * height)))


@dataclass
class Clip:
    """Frames decoded from one video with one sampling choice."""

    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: float  # playback rate for the rendered videos
    key: tuple  # cache identity: file identity and sampling
    name: str  # file name shown to people
    sha256: str  # of the source file, for the run card
    source_size: tuple[int, int]  # (width, height) of the source video
    source_fps: float  # frame rate of the source video
    duration_s: float  # length of the source video

    @property
    def read_size(self) -> tuple[int, int]:
        """(width, height) of the decoded frames: what the gazer is given (it resizes to its own input)."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])

    @property
    def source(self) -> dict[str, Any]:
        """gaze.json's `source`: the file's name (not the server's path), its hash, the frames read, their rate."""
        return {"video": self.name, "sha256": self.sha256, "frames": int(self.frames.shape[0]), "fps": self.fps}


@dataclass
class Run:
    """One finished gaze run: chunks x tiles, of which the untiled run is the one-chunk, one-tile case.

    Whole-frame runs keep their clip's gaze and reconstruction in memory (`whole_clip`: the frame scrubber,
    the threshold curve and masks.npz read them); a tiled run has written its files into `folder` as it ran.
    Both give gaze.json's `totals` and metrics.csv's `rows`, which the summary, the card and the figures read.
    """

    settings: RunSettings
    clip: Clip  # frames (T, H, W, 3): at READ_SIDE, or the native size with tiles
    layout: TileLayout  # the tiles over the frame (one, the whole frame, at tile size 0)
    totals: dict[str, Any]  # gaze.json's "totals": slots kept, losses, PSNR, seconds (`video_run`)
    rows: list[dict[str, Any]]  # metrics.csv's rows, one per frame
    gazer: str  # the gazer's name
    reconstructor: str  # the reconstructor's name
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> wall seconds of this request
    gaze: GazeResult | None = None  # the whole clip's gaze (B=1), when it is one chunk and one tile
    reconstruction: Any = None  # its playground.Reconstruction
    folder: Path | None = None  # where a tiled run wrote gaze.json, metrics.csv, overlay.mp4, reconstruction.mp4
    frames_fit: int | None = None  # frames of this size the decode limit lets one run read (`frames_fit`)
    max_decode_pixels: int | None = None  # that limit ($PLAYGROUND_APP_MAX_DECODE_PIXELS)
    gaze_settings: dict[str, Any] = field(default_factory=dict)  # what the gazer used (threshold, its unit, stop)

    @property
    def whole_clip(self) -> bool:
        """The clip gazed whole (one chunk, one tile, held in memory): what the scrubber and the curve need."""
        return self.gaze is not None

    @classmethod
    def of_clip(
        cls, settings: RunSettings, clip: Clip, gaze: GazeResult, rec: Any, seconds: dict[str, float] | None = None
    ) -> "Run":
        """The one-chunk, one-tile run of `clip`'s gaze and reconstruction."""
        H, W = clip.frames.shape[1:3]
        rows = clip_rows(gaze, rec)
        return cls(
            settings,
            clip,
            tile_layout(H, W),
            clip_totals(gaze, rec, {**gaze.seconds, **rec.seconds}, rows),
            rows,
            gaze.gazer or settings.gazer,
            rec.reconstructor,
            dict(seconds or {}),
            gaze=gaze,
            reconstruction=rec,
            gaze_settings=dict(gaze.settings),
        )


def load_clip(video: str | Path | None, settings: RunSettings, limits: Limits) -> Clip:
    """Decode the frames `settings` asks for (cached per file and sampling).

    Args:
        video: path of an uploaded or example video (mp4/webm/mov/avi/mkv) or a uint8 `.npy`.
        settings: checked settings (frame count, fps, start).
        limits: size and duration caps.

    Returns:
        Clip with frames (T, H, W, 3) uint8.
    """
    check(video is not None and str(video).strip() != "", "upload a video or pick an example first")
    path = Path(str(video))
    try:
        limits.check_video(path)
        key = (cache.file_key(path), settings.num_frames, settings.fps, settings.start, settings.read_side)
        return cache.FRAMES.get(key, lambda: _decode(path, settings, key, limits))
    except PlaygroundError as exc:  # uploads live under long temporary paths: name the file only
        raise PlaygroundError(str(exc).replace(str(path), path.name)) from exc


def _decode(path: Path, settings: RunSettings, key: tuple, limits: Limits) -> Clip:
    try:
        frames, play_fps, info = read_clip(
            path,
            num_frames=settings.num_frames,
            fps=settings.fps or None,
            start=settings.start,
            max_side=settings.read_side,
            max_pixels=limits.max_decode_pixels,
            max_frames=limits.max_frames,
        )
    except DecodeLimitError as exc:
        remedies = TILED_DECODE_REMEDIES if settings.tile else DECODE_REMEDIES
        if exc.limit == "max_pixels":  # say how many frames fit at this size, and what would read all of them
            info = probe_video(path) if path.suffix.lower() != ".npy" else None
            if info is not None:
                size = (info.width, info.height)
                fit = frames_fit(size, settings, limits)
                remedies = {
                    **remedies,
                    "max_pixels": f"at {size[0]}x{size[1]} px {fit} frame(s) fit in this "
                    f"server's {limits.max_decode_pixels:,} pixels a run; " + remedies["max_pixels"],
                }
        raise exc.remedy(remedies) from None
    return Clip(
        frames,
        play_fps,
        key,
        path.name,
        cache.sha256_of([path]),
        *source_facts((frames.shape[2], frames.shape[1]), len(frames), play_fps, info),
    )


def gaze_with_progress(
    gazer,
    frames: np.ndarray,
    ratio: float | None,
    threshold: float | None,
    progress: Progress = no_progress,
    label: str = "gazing",
    prepared: Any = None,
) -> GazeResult:
    """`gazers.base.gaze_frames` with the page's progress bar moving per frame; `prepared`: the
    gazer's `prepare(frames)`, or None."""
    progress(None, desc=label)
    return gaze_frames(
        gazer,
        frames,
        ratio,
        threshold,
        prepared=prepared,
        on_frame=lambda done, total: progress(done / total, desc=f"{label}: frame {done}/{total}"),
    )


def prepared_frames(clip: Clip, name: str, model, store: cache.LRU | None = None) -> Any:
    """What `model`, the gazer (or reconstructor) called `name`, prepares of `clip`'s frames (`Gazer.prepare`:
    greedy's canvas and scale views; `Reconstructor.prepare`: paint's frames on the canvas), made once and shared
    by every gaze (or rebuild) of the clip at another threshold or budget, in `store` (default cache.PREPARED;
    a reconstructor's: cache.REBUILD_PREPARED); None where the model prepares nothing or it would not fit that
    cache (each gaze or rebuild then makes its own, frame by frame)."""
    store = cache.PREPARED if store is None else store
    if not 0 < model.prepared_nbytes(clip.frames.shape) <= store.max_bytes:
        return None
    return store.get((clip.key, cache.model_key(name)), lambda: model.prepare(clip.frames))


def gaze_clip(clip: Clip, settings: RunSettings, progress: Progress = no_progress) -> GazeResult:
    """Gaze `clip` with the settings' gazer, budget and threshold (cached per clip, gazer and knobs).

    Args:
        clip: decoded frames.
        settings: checked settings (another budget or gazer: pass `dataclasses.replace(settings, ...)`).

    Returns:
        GazeResult with B=1 and T = clip frames.
    """
    ratio, threshold = settings.gazing_ratio, settings.task_loss_requirement
    key = gaze_key(clip, settings)

    def build():
        gazer = cache.get_gazer(settings.gazer, stop=settings.stop)
        return gaze_with_progress(
            gazer,
            clip.frames,
            ratio,
            threshold,
            progress,
            label=f"gazing with {settings.gazer}",
            prepared=prepared_frames(clip, settings.gazer, gazer),
        )

    return cache.GAZES.get(key, build)


def gaze_key(clip: Clip, settings: RunSettings) -> tuple:
    """A gaze's cache identity: the clip, the gazer, the budget, the threshold and the stop."""
    return (
        clip.key,
        cache.model_key(settings.gazer),
        settings.gazing_ratio,
        settings.task_loss_requirement,
        settings.stop,
    )


def gaze_and_rebuild(clip: Clip, settings: RunSettings, progress: Progress = no_progress) -> tuple[GazeResult, Any]:
    """`gaze_clip`, then rebuild every frame with the chosen reconstructor (both cached).

    Returns:
        (GazeResult with B=1, Reconstruction of every frame).
    """
    gaze = gaze_clip(clip, settings, progress)
    key = (id(gaze), cache.model_key(settings.reconstructor))

    def build():
        progress(None, desc=f"rebuilding with {settings.reconstructor}")
        reconstructor = cache.get_reconstructor(settings.reconstructor)
        prepared = prepared_frames(clip, settings.reconstructor, reconstructor, cache.REBUILD_PREPARED)
        return gaze, reconstructor.reconstruct(clip.frames, gaze, prepared=prepared)

    # Keyed by the gaze object, which the gaze cache keeps alive; the pair holds it so an id is never reused.
    return cache.REBUILDS.get(key, build)


def run(
    video: str | Path | None,
    settings: RunSettings,
    limits: Limits,
    progress: Progress = no_progress,
    folder: Path | None = None,
) -> Run:
    """Read, gaze and rebuild: the app's main action.

    At tile size 0 the clip is gazed whole and nothing is written (render writes the files); with tiles,
    every chunk of every tile is gazed, rebuilt and written into `folder` (`run_tiled`).
    """
    settings = settings.checked(limits)
    if settings.tile:
        check(folder is not None, "a tiled run writes its outputs into a folder: give one")
        return run_tiled(video, settings, limits, Path(folder), progress)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    progress(0.0, desc="reading the video")
    clip = load_clip(video, settings, limits)
    seconds["read"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    gaze, rec = gaze_and_rebuild(clip, settings, scaled(progress, RUN_SHARE))
    seconds["gaze+rebuild"] = time.perf_counter() - t1
    return Run.of_clip(settings, clip, gaze, rec, seconds)


def tiles_for(clip: Clip, tile: int, limits: Limits) -> TileLayout:
    """The layout of `tile`-px tiles over the clip's frames, within the frame's size and the server's clip cap."""
    T, H, W = clip.frames.shape[:3]
    check(
        tile <= max(H, W),
        f"tile size {tile} px is larger than the frames of {clip.name} ({W}x{H} px): choose "
        f"at most {max(H, W)} px, or 0 for the whole frame",
    )
    layout = tile_layout(H, W, tile)
    limits.check_tile_clips(clip_count(T, layout), f"{layout.describe()} for {T} frames")
    return layout


def run_tiled(
    video: str | Path | None, settings: RunSettings, limits: Limits, folder: Path, progress: Progress = no_progress
) -> Run:
    """`run` with tiles (`settings` checked): read at the native size, then gaze, rebuild and write every
    chunk of every tile into `folder`.

    The same code as `python -m playground gaze VIDEO --tile PX --frames N` (`video_run.run_video`,
    with the CLI's batch size and preview width), so both give the same gaze.json and metrics.csv.
    """
    check(settings.tile > 0, "run_tiled needs a tile size (0 is the untiled `run`)")
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    progress(0.0, desc="reading the video at its native size")
    clip = load_clip(video, settings, limits)
    layout = tiles_for(clip, settings.tile, limits)
    seconds["read"] = time.perf_counter() - t0
    gazer = cache.get_gazer(settings.gazer, stop=settings.stop)
    reconstructor = cache.get_reconstructor(settings.reconstructor)
    T = int(clip.frames.shape[0])

    # One bar over both halves of the work (`run_video` interleaves them chunk by chunk): clips gazed, and clips
    # rebuilt, drawn and written; it fills to RUN_SHARE, the rest is the card and the page's render.
    done = {"gazed": 0.0, "written": 0.0}

    def report(stage: str, desc: str) -> Callable[[float, int | None], None]:
        def update(clips: float, total: int | None) -> None:
            done[stage] = clips
            share = RUN_SHARE * (done["gazed"] + done["written"]) / (2 * total) if total else None
            progress(share, desc=f"{desc}: clip {clips:.3g}/{total or '?'}")

        return update

    t1 = time.perf_counter()
    totals = run_video(
        clip.frames,
        gazer,
        reconstructor,
        Path(folder),
        fps=clip.fps,
        tile=settings.tile,
        batch_size=TILE_BATCH,
        gazing_ratio=settings.gazing_ratio,
        task_loss_requirement=settings.task_loss_requirement,
        preview_width=PREVIEW_WIDTH,
        total_frames=T,
        source=clip.source,
        progress=report("gazed", "gazing tiles"),
        written=report("written", "rebuilding, drawing and writing tiles"),
    )
    seconds["gaze+rebuild+write"] = time.perf_counter() - t1
    H, W = clip.frames.shape[1:3]
    return Run(
        settings,
        clip,
        layout,
        totals.to_json(),
        totals.rows,
        gazer.name,
        reconstructor.name,
        seconds,
        folder=Path(folder),
        frames_fit=frames_fit((W, H), settings, limits),
        max_decode_pixels=limits.max_decode_pixels,
        gaze_settings=totals.settings,
    )


@dataclass
class Curve:
    """Slots kept and quality as the threshold moves, for one clip, gazer and budget."""

    thresholds: list[float]  # (K,) thresholds tried
    kept_fraction: list[float]  # (K,) gazed slots / all slots
    psnr: list[float]  # (K,) mean finite PSNR in dB
    loss: list[float]  # (K,) mean reconstruction loss


def threshold_curve(
    clip: Clip, settings: RunSettings, progress: Progress = no_progress, thresholds: Sequence[float] = CURVE_THRESHOLDS
) -> Curve | None:
    """Sweep the threshold at the current budget (cached; reuses the gazes already made).

    Returns None for a gazer that ignores the threshold (`full`, `random`): there is nothing to sweep.
    """
    if not cache.get_gazer(settings.gazer).uses_threshold:
        return None
    key = (
        clip.key,
        cache.model_key(settings.gazer),
        cache.model_key(settings.reconstructor),
        settings.gazing_ratio,
        tuple(thresholds),
        settings.stop,
    )

    def point(th: float) -> tuple[float, float, float]:
        gaze, rec = gaze_and_rebuild(clip, replace(settings, threshold=float(th)))
        return gaze.kept_fraction, mean_psnr(rec.psnr), float(rec.loss.mean())

    def build():
        # The thresholds are gazed at once on SWEEP_WORKERS threads (torch ops release the GIL); the
        # lowest, which gaze the most slots, start first. Points already cached (the page's run) are free.
        points: dict[float, tuple[float, float, float]] = {}
        with ThreadPoolExecutor(max_workers=min(SWEEP_WORKERS, len(thresholds))) as pool:
            jobs = {pool.submit(point, th): th for th in thresholds}
            for job in as_completed(jobs):
                points[jobs[job]] = job.result()
                progress(len(points) / len(thresholds), desc=f"threshold sweep: {len(points)}/{len(thresholds)}")
        kept, psnr, loss = (list(v) for v in zip(*(points[th] for th in thresholds)))
        return Curve([float(t) for t in thresholds], kept, psnr, loss)

    return cache.CURVES.get(key, build)


@dataclass
class CalibrationSweep:
    """Requested threshold against measured loss on one clip, for one learned gazer and reconstructor."""

    requested: list[float]  # (K,) thresholds asked for
    uncalibrated: list[float]  # (K,) mean measured per-frame loss with each handed to the task-loss head as is
    calibrated: list[float] | None  # (K,) the same through the gazer's calibration (None: it has none)
    calibration: str  # what the gazer's calibration is (`Calibration.describe`, or that it has none)


def predicts_its_loss(gazer) -> bool:
    """Whether `gazer` stops on a loss its head predicts (a learned gazer with the predicted stop): the only
    kind whose threshold a calibration maps (`playground.calibration`)."""
    return (
        getattr(gazer, "loss_kind", None) == "predicted"
        and hasattr(gazer, "calibration")
        and getattr(gazer, "stop", "predicted") == "predicted"
    )


def calibration_sweep(
    clip: Clip,
    settings: RunSettings,
    progress: Progress = no_progress,
    thresholds: Sequence[float] = CALIBRATION_THRESHOLDS,
) -> CalibrationSweep | None:
    """Measure what the settings' gazer's requested thresholds give the settings' reconstructor on `clip` (cached).

    One `calibration.calibrate` sweep over `thresholds` and, when the gazer is calibrated, the head thresholds
    its calibration hands on for them (`Calibration.threshold_for`): both curves from one set of gazes, each
    with the threshold alone (no ratio cap), as a calibration measures. None for a gazer whose threshold is
    not a predicted loss (nothing to calibrate).
    """
    from ..calibration import calibrate

    gazer = cache.get_gazer(settings.gazer)
    if not predicts_its_loss(gazer):
        return None
    key = (
        "calibration",
        clip.key,
        cache.model_key(settings.gazer),
        cache.model_key(settings.reconstructor),
        tuple(thresholds),
    )

    def build() -> CalibrationSweep:
        cal = gazer.calibration
        heads = [cal.threshold_for(t) for t in thresholds] if cal is not None else []
        # calibrate() switches the calibration off while it sweeps: on a copy (the same weights), so that other
        # sessions gazing with the cached gazer meanwhile keep theirs.
        swept = calibrate(
            copy.copy(gazer),
            cache.get_reconstructor(settings.reconstructor),
            [clip.frames],
            names=[clip.name],
            thresholds=sorted({*map(float, thresholds), *heads}),
            progress=lambda done, total: progress(done / total, desc=f"calibration sweep: {done}/{total}"),
        )

        def measured(t: float) -> float:
            return swept.measured[int(np.argmin(np.abs(np.asarray(swept.requested) - t)))]

        return CalibrationSweep(
            [float(t) for t in thresholds],
            [measured(t) for t in thresholds],
            [measured(h) for h in heads] if cal is not None else None,
            cal.describe() if cal is not None else gazer.calibration_note,
        )

    return cache.CURVES.get(key, build)


def compare_gazers(
    clip: Clip,
    settings: RunSettings,
    ratio: float,
    gazers: Sequence[str] | None = None,
    progress: Progress = no_progress,
) -> tuple[list[dict], dict[str, tuple[GazeResult, Any]]]:
    """Every gazer on the same clip at the same budget, with no threshold, so each spends the budget.

    Each gazer keeps exactly its budget of slots per frame where it can: `framediff` keeps only
    finest-scale patches (at most 196 per frame), and `full` ignores budgets (the no-gazing reference).

    Returns:
        (rows: one dict per gazer with slots, budget, ratio, loss, PSNR, SSIM and seconds;
         results: gazer -> (GazeResult, Reconstruction)).
    """
    ratio = knobs.gazing_ratio(ratio, "the budget")
    names = list(gazers or available_gazers(built_in=True))
    if settings.gazer and settings.gazer.lower() not in names:
        names.insert(0, settings.gazer)  # a checkpoint the user chose joins the comparison
    rows, results = [], {}
    for i, name in enumerate(names):
        progress(i / len(names), desc=f"comparing: {name}")
        # threshold 0 is "off": the budget alone decides, for every gazer
        gaze, rec = gaze_and_rebuild(clip, replace(settings, gazer=name, gazing_ratio=ratio, threshold=0.0))
        results[name] = (gaze, rec)
        rows.append(
            {
                "gazer": name,
                "slots": gaze.num_gazed,
                "budget": sum(frame_budgets(ratio, gaze.num_frames, gaze.grid.num_slots)),
                "kept_%": round(100 * gaze.kept_fraction, 2),
                "slots_per_frame": round(gaze.num_gazed / gaze.num_frames, 1),
                "loss": round(float(rec.loss.mean()), 4),
                "psnr_db": round(mean_psnr(rec.psnr), 2),
                "ssim": round(float(rec.ssim.mean()), 4),
                "gaze_s": round(gaze.seconds.get("gaze", 0.0), 3),
                "rebuild_s": round(rec.seconds.get("reconstruct", 0.0), 3),
            }
        )
    return rows, results


@dataclass
class AskResult:
    """The same question answered on the gazed tokens, on every token and, optionally, after post-ViT pruning
    to the gazed answer's LLM vision tokens, all on the same frames."""

    gazed: Any  # playground.mllm.Answer on the gazed patches
    full: Any  # playground.mllm.Answer on every patch
    note: str | None  # a caveat worth showing (e.g. the gazed attention costing more), else None
    random_weights: bool = False  # the MLLM has random weights: its answers are noise, shown as such
    gaze_tab: GazeResult | None = None  # the Gaze tab's gaze of the same clip and settings, when it ran
    pruned: dict[str, Any] = field(default_factory=dict)  # post-ViT pruning method -> its Answer, in the order asked

    @property
    def answers(self) -> dict[str, Any]:
        """Every answer by its column's name: gazed, full, then the pruned ones."""
        return {"gazed": self.gazed, "full": self.full, **self.pruned}


def check_pruning(pruning: Sequence[str] | None) -> list[str]:
    """The post-ViT pruning methods asked for (`PRUNING_METHODS`), each once; raises PlaygroundError."""
    methods = [str(m).strip() for m in (pruning or []) if str(m).strip()]
    for m in methods:
        check(m in PRUNING_METHODS, f"post-ViT pruning {m!r} is not one of {', '.join(PRUNING_METHODS)}")
    check(len(set(methods)) == len(methods), f"post-ViT pruning names a method twice: {', '.join(methods)}")
    return methods


def ask(
    clip: Clip,
    settings: RunSettings,
    question: str,
    mllm_name: str,
    attention: str = "block_causal",
    max_new_tokens: int = 32,
    progress: Progress = no_progress,
    pruning: Sequence[str] | None = None,
) -> AskResult:
    """Answer `question` about `clip`: gazed (the settings' gazer, on the model's grid), full, and after each
    post-ViT `pruning` method (`playground.mllm.pruning`) at the gazed answer's LLM vision tokens.

    The conditions and their answers are CLI `ask --conditions full,gazed,...`'s (`parse_conditions`,
    `answer_conditions`), so the same settings give the same tokens and FLOPs. The gazer runs inside the gazed
    answer so that its time and FLOPs are a stage of that answer.
    """
    check(isinstance(question, str) and question.strip() != "", "type a question first")
    tokens = int(finite_number(max_new_tokens, "max new tokens"))
    check(1 <= tokens <= MAX_ANSWER_TOKENS, f"max new tokens must be between 1 and {MAX_ANSWER_TOKENS}, got {tokens}")
    methods = check_pruning(pruning)
    conditions = parse_conditions(
        ",".join(["full", "gazed", *methods]), settings.gazer, settings.gazing_ratio, settings.threshold, attention
    )
    gazer = settings.gazer  # training-free gazers are built on the MLLM's grid by the MLLM itself
    if gazer.lower() not in TRAINING_FREE_GAZERS:  # a checkpoint: loaded (and named, and checked) as on the Gaze tab
        progress(0.02, desc=f"loading {gazer}")
        gazer = cache.get_gazer(gazer)
    progress(0.05, desc=f"loading {mllm_name}")
    mllm = cache.get_mllm(mllm_name)
    answers = answer_conditions(
        mllm,
        conditions,
        clip.frames,
        question.strip(),
        gazer_for=lambda _: gazer,
        on_condition=lambda i, c: progress(0.2 + 0.75 * i / len(conditions), desc=f"answering: {c.name}"),
        max_new_tokens=tokens,
        fps=clip.fps,
    )
    full, gazed = answers.pop("full"), answers.pop("gazed")
    notes = [getattr(mllm, "note", None), attention_warning(full, gazed)]  # e.g. random weights; costly attention
    return AskResult(
        gazed,
        full,
        "; ".join(n for n in notes if n) or None,
        random_weights=getattr(mllm, "note", None) == RANDOM_WEIGHTS_NOTE,
        gaze_tab=gazed_before(clip, settings),
        pruned=answers,
    )


def gazed_before(clip: Clip, settings: RunSettings) -> GazeResult | None:
    """The Gaze tab's gaze of this clip at these settings if it is cached (never computed here)."""
    key = gaze_key(clip, settings)
    return cache.GAZES.get(key, lambda: None) if key in cache.GAZES else None


def grid_note(gazed: Any, gaze_tab: GazeResult | None) -> str:
    """Why the Ask tab's gazed patches need not equal the Gaze tab's slots for the same settings."""
    kept = gazed.settings.get("kept_fraction")
    here = (
        f"Here the gazer ran on the MLLM's own grid ({gazed.settings.get('grid')}) and kept "
        f"{gazed.vision_tokens:,} patches" + ("" if kept is None else f" ({100 * kept:.1f}% of its slots)")
    )
    there = (
        "the Gaze tab gazes on the 224 px grid (265 slots a frame)"
        if gaze_tab is None
        else f"the Gaze tab kept {gaze_tab.num_gazed:,} slots on {gaze_tab.grid.describe()} "
        f"({100 * gaze_tab.kept_fraction:.1f}%)"
    )
    return (
        f"{here}, on the same {gazed.settings.get('frames')} frames; {there}. The grids differ (canvas size, "
        f"slots per frame; AutoGaze is run as tiles of 224 px on a larger grid), so the same ratio and threshold "
        f"keep different counts."
    )
