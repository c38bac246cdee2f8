"""The Live tab: webcam frames gazed as they arrive, through the gazer's streaming API.

The browser's camera streams frames (H, W, 3) to `live_frame`, one call a frame. A session's
`LiveSession` (kept in a `gr.State`) holds the gazer's `stream` generator fed one frame at a time
(`Feed`), the `paint` canvas the frames are rebuilt on (`PaintReconstructor.paint_step`), and the
running counts (frames, slots kept, PSNR, time). The gazer's caches and the canvas restart every
`knobs.CLIP_LEN` frames, as a video is gazed by 16-frame chunks elsewhere, and when the gazer or a
knob changes (a stream's knobs are fixed when it starts). The picture is the overlay coloured by
scale (`viz.overlay_frames`) beside the paint rebuild (`viz.side_by_side`); the bounds are
`Limits.live_side`, `live_seconds` and `live_streams`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch

from .. import knobs, metrics, viz
from ..errors import PlaygroundError, check
from ..gaze import GazeResult
from ..painting import blank_canvas
from ..pixels import denormalize
from ..video import resize_frames
from . import cache
from .callbacks import LIMITS, friendly_errors

LABELS = ("gazed", "paint rebuild")
STREAM_EVERY = 0.25  # seconds between the frames the browser sends (at most 4 a second)
WAITING = "Press the camera's record button: each frame is gazed as it arrives."


class Feed:
    """An endless source that hands over one frame at a time: `put(frame)` then pull it with `next` on the stream.

    The stream pulls a frame only when asked for its next result, so one `put` is one gazed frame."""

    def __init__(self):
        self.frame: np.ndarray | None = None

    def put(self, frame: np.ndarray) -> None:
        self.frame = frame

    def __iter__(self) -> Iterator[np.ndarray]:
        while self.frame is not None:
            frame, self.frame = self.frame, None
            yield frame


@dataclass
class LiveSession:
    """One browser stream: the gazer's stream and paint canvas of the current chunk, and the running counts."""

    knobs: tuple  # (gazer, threshold, ratio, frame shape) the current chunk's stream was started with
    feed: Feed = field(default_factory=Feed)
    results: Iterator[GazeResult] | None = None
    canvas: torch.Tensor | None = None  # (1, 3, C, C) the paint rebuild so far, normalised
    in_chunk: int = 0  # frames gazed since the caches restarted
    frames: int = 0  # frames gazed in all
    kept: int = 0  # slots kept in all
    psnr_sum: float = 0.0  # over the frames with a finite PSNR
    psnr_frames: int = 0
    busy: float = 0.0  # seconds spent gazing and rebuilding
    started: float = field(default_factory=time.perf_counter)

    def restart(self, gazer, threshold: float | None, ratio: float) -> None:
        """Fresh caches: a new stream of the gazer over the feed, and a blank canvas."""
        self.results = gazer.stream(self.feed, gazing_ratio=ratio, task_loss_requirement=threshold)
        self.canvas = blank_canvas(1, gazer.grid.canvas)
        self.in_chunk = 0


def live_frame(
    frame, gazer_name, threshold, ratio, session: LiveSession | None, side: int
) -> tuple[np.ndarray | None, str, LiveSession | None]:
    """Gaze one webcam frame: (overlay | paint rebuild picture, stats line, the session) for the page.

    `frame`: uint8 (H, W, 3) or None (the camera has not sent one); shrunk to at most `side` px on its
    long side. A bad knob or gazer is the stats line (the stream goes on, the picture kept)."""
    if frame is None:
        return None, WAITING, session
    try:
        frame = fit_frame(np.asarray(frame), side)
        threshold, ratio = knobs.threshold_or_off(threshold), knobs.gazing_ratio(ratio, "gazing ratio")
        gazer = cache.get_gazer(gazer_name)
        check(getattr(gazer, "live", True), f"{gazer.name} cannot gaze a live stream (it needs the whole clip)")
        return gaze_live(frame, gazer, threshold, ratio, session)
    except PlaygroundError as exc:
        return None, str(exc), session


def fit_frame(frame: np.ndarray, side: int) -> np.ndarray:
    """uint8 (H, W, 3) -> at most `side` px on the long side, aspect kept (the frame size cap)."""
    check(
        frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[-1] == 3,
        f"a camera frame must be uint8 (H, W, 3), got {frame.dtype} {tuple(frame.shape)}",
    )
    H, W = frame.shape[:2]
    if max(H, W) <= side:
        return frame if frame.flags.writeable else frame.copy()  # Gradio's arrays are read-only; torch wants writable
    scale = side / max(H, W)
    return resize_frames(frame[None], (max(1, round(H * scale)), max(1, round(W * scale))))[0]


def gaze_live(
    frame: np.ndarray, gazer, threshold: float | None, ratio: float, session: LiveSession | None
) -> tuple[np.ndarray, str, LiveSession]:
    """The frame gazed by the session's stream and painted on its canvas; restarts the caches when due."""
    wanted = (gazer.name, threshold, ratio, frame.shape)
    if session is None:
        session = LiveSession(wanted)
    if session.results is None or session.knobs != wanted or session.in_chunk == knobs.CLIP_LEN:
        session.knobs = wanted
        session.restart(gazer, threshold, ratio)
    start = time.perf_counter()
    session.feed.put(frame)
    try:
        gaze = next(session.results)  # (1 clip, 1 frame)
    except BaseException:
        session.results = None  # a failed stream is over: the next frame starts a fresh one
        raise
    painter = cache.get_reconstructor("paint")
    session.canvas, target = painter.paint_step(session.canvas, frame[None], gaze.slot_mask()[:, 0])
    shown, wanted_px = denormalize(session.canvas[0]), denormalize(target[0])  # (C, C, 3) uint8
    psnr = float(metrics.psnr(shown, wanted_px))
    rebuilt = resize_frames(shown.numpy()[None], frame.shape[:2])  # the squashed canvas back to the frame's aspect
    picture = viz.side_by_side(viz.overlay_frames(frame[None], gaze), rebuilt, labels=LABELS)[0]
    kept = int(gaze.counts()[0, 0])
    session.in_chunk += 1
    session.frames += 1
    session.kept += kept
    if np.isfinite(psnr):
        session.psnr_sum += psnr
        session.psnr_frames += 1
    session.busy += time.perf_counter() - start
    return picture, stats_line(session, kept, psnr, gazer.grid.num_slots), session


def stats_line(session: LiveSession, kept: int, psnr: float, slots: int) -> str:
    """What the page shows under the picture: this frame's slots and PSNR, and the running figures."""
    elapsed = max(time.perf_counter() - session.started, 1e-9)
    running = session.psnr_sum / session.psnr_frames if session.psnr_frames else float("inf")
    return (
        f"frame {session.frames} (frame {session.in_chunk} of {knobs.CLIP_LEN} since the caches restarted): "
        f"**{kept} of {slots} slots kept**, PSNR {psnr:.1f} dB | running: {session.kept / session.frames:.1f} "
        f"slots a frame, PSNR {running:.1f} dB, {session.frames / elapsed:.1f} frames/s received, "
        f"{1000 * session.busy / session.frames:.0f} ms a frame gazing and rebuilding"
    )


# ---- the tab ---------------------------------------------------------------------------------
def build_live_tab() -> dict:
    """The camera (streaming), the overlay | paint rebuild picture, the stats line and the session's state."""
    import gradio as gr

    gr.Markdown(
        f"The gazer, threshold and ratio are the ones on the left; moving them restarts the caches. "
        f"Frames are shrunk to {LIMITS.live_side} px, gazed and rebuilt with `paint` as they arrive; the "
        f"caches restart every {knobs.CLIP_LEN} frames. A stream stops after {LIMITS.live_seconds} s "
        "(press record again)."
    )
    with gr.Row(equal_height=True):
        camera = gr.Image(
            sources=["webcam"],
            streaming=True,
            type="numpy",
            label="camera",
            elem_id="live-camera",
            scale=1,
            min_width=240,
        )
        picture = gr.Image(
            label="gazed patches, coloured by scale | paint rebuild",
            interactive=False,
            elem_id="live-picture",
            scale=2,
            min_width=320,
        )
    stats = gr.Markdown(WAITING, elem_id="live-stats")
    live = gr.State(None, time_to_live=LIMITS.live_seconds + 600)  # the stream's `LiveSession`
    return dict(camera=camera, live_picture=picture, live_stats=stats, live=live)


def wire_live_events(ui) -> None:
    """Stream the camera into `live_frame` with the left column's gazer and knobs, within the live limits."""
    ui.camera.stream(
        friendly_errors(page_frame),
        [ui.camera, ui.gazer, ui.threshold, ui.ratio, ui.live],
        [ui.live_picture, ui.live_stats, ui.live],
        stream_every=STREAM_EVERY,
        time_limit=LIMITS.live_seconds,
        concurrency_limit=LIMITS.live_streams,
        concurrency_id="live",
        api_visibility="private",
        show_progress="hidden",
    )


def page_frame(frame, gazer, threshold, ratio, session):
    """`live_frame` at the server's frame size cap; a frame that failed keeps the last picture on screen."""
    import gradio as gr

    picture, stats, session = live_frame(frame, gazer, threshold, ratio, session, LIMITS.live_side)
    return gr.skip() if picture is None else picture, stats, session
