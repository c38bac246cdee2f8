"""Limits that keep a shared app responsive: upload size and length, frames per run, queue sizes, live streams.

Every limit has a default that suits a free CPU Space and an environment variable to change it,
so a self-hosted GPU box can allow more without editing code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import PlaygroundError, check
from ..knobs import whole_number
from ..video import probe_video


def _env_number(name: str, default: float) -> float:
    """A positive number from the environment, or `default` when unset (the default may be 0 = automatic)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise PlaygroundError(f"${name} must be a number, got {raw!r}") from exc
    check(value > 0, f"${name} must be positive, got {value}")
    return value


@dataclass(frozen=True)
class Limits:
    """What one request may ask for, and how many requests run at once."""

    max_upload_mb: float = 100.0  # largest accepted upload
    max_duration_s: float = 300.0  # longest accepted video
    max_frames: int = 64  # most frames one run samples
    concurrency: int = 2  # runs executing at once (per event)
    queue_size: int = 64  # requests waiting beyond those
    torch_threads: int = 0  # CPU threads per torch op; 0 = cores // concurrency, so runs do not oversubscribe
    # most pixels one run decodes (frames x H x W at the 480 px read size: 64 frames of 480x480 fit);
    # with the read size and the decoder's own bounds this keeps a run's memory bounded
    max_decode_pixels: int = 16_000_000
    # most clips (16-frame chunks x tiles) one tiled run gazes: each is a gazer call on a 224 px input
    # (on 2 CPU cores, ~0.3-1 s each with greedy), so small tiles over large frames stay a bounded wait
    max_tile_clips: int = 256
    # the Live tab (`live.py`): a webcam frame is shrunk to at most live_side px on its long side before it is
    # gazed (the gazer's input is 224 px anyway), a stream stops after live_seconds (the page's Record button
    # starts another), and at most live_streams streams run at once on the server (a page has one webcam box,
    # so a session streams once; more sessions wait in the queue)
    live_side: int = 224
    live_seconds: int = 120
    live_streams: int = 2

    @classmethod
    def from_env(cls) -> "Limits":
        """The defaults, overridden by $PLAYGROUND_APP_{MAX_UPLOAD_MB, MAX_DURATION_S, MAX_FRAMES, CONCURRENCY,
        QUEUE, THREADS, MAX_DECODE_PIXELS, MAX_TILE_CLIPS,
        LIVE_SIDE, LIVE_SECONDS, LIVE_STREAMS}."""
        d = cls()
        return cls(
            max_upload_mb=_env_number("PLAYGROUND_APP_MAX_UPLOAD_MB", d.max_upload_mb),
            max_duration_s=_env_number("PLAYGROUND_APP_MAX_DURATION_S", d.max_duration_s),
            max_frames=int(_env_number("PLAYGROUND_APP_MAX_FRAMES", d.max_frames)),
            concurrency=int(_env_number("PLAYGROUND_APP_CONCURRENCY", d.concurrency)),
            queue_size=int(_env_number("PLAYGROUND_APP_QUEUE", d.queue_size)),
            torch_threads=int(_env_number("PLAYGROUND_APP_THREADS", d.torch_threads)),
            max_decode_pixels=int(_env_number("PLAYGROUND_APP_MAX_DECODE_PIXELS", d.max_decode_pixels)),
            max_tile_clips=int(_env_number("PLAYGROUND_APP_MAX_TILE_CLIPS", d.max_tile_clips)),
            live_side=int(_env_number("PLAYGROUND_APP_LIVE_SIDE", d.live_side)),
            live_seconds=int(_env_number("PLAYGROUND_APP_LIVE_SECONDS", d.live_seconds)),
            live_streams=int(_env_number("PLAYGROUND_APP_LIVE_STREAMS", d.live_streams)),
        )

    def threads(self) -> int:
        """Torch threads per op: $PLAYGROUND_APP_THREADS, else the cores shared among concurrent runs."""
        return self.torch_threads or max(1, (os.cpu_count() or 1) // max(1, self.concurrency))

    @property
    def max_upload_text(self) -> str:
        """The upload cap in the form `launch(max_file_size=...)` takes."""
        return f"{int(self.max_upload_mb)}mb"

    def check_video(self, path: str | Path) -> None:
        """Refuse a video file that is missing, too big or too long, with a one-line message."""
        path = Path(path)
        check(path.is_file(), f"no such video file: {path.name}")
        size_mb = path.stat().st_size / 2**20
        check(
            size_mb <= self.max_upload_mb,
            f"{path.name} is {size_mb:.0f} MB; this app accepts videos up to {self.max_upload_mb:.0f} MB",
        )
        if path.suffix.lower() == ".npy":
            return
        info = probe_video(path)
        check(
            info.duration_s <= self.max_duration_s,
            f"{path.name} lasts {info.duration_s:.0f} s; this app accepts videos up to {self.max_duration_s:.0f} s "
            "(cut it first, or raise $PLAYGROUND_APP_MAX_DURATION_S when self-hosting)",
        )

    def check_frames(self, num_frames: int) -> int:
        """The frame count as an int within [1, max_frames] (more is refused, never clamped)."""
        try:
            return whole_number(num_frames, "frames", 1, self.max_frames)
        except PlaygroundError as exc:
            raise PlaygroundError(
                f"{exc} (this server allows up to {self.max_frames} frames a run; "
                "$PLAYGROUND_APP_MAX_FRAMES raises it when self-hosting)"
            ) from None

    def check_tile_clips(self, clips: int, what: str) -> None:
        """Refuse a tiled run of more than `max_tile_clips` clips (chunks x tiles); `what` names the tiling."""
        check(
            clips <= self.max_tile_clips,
            f"{what} make {clips} tile clips to gaze; this server gazes at most {self.max_tile_clips} a run: "
            "choose a larger tile size or fewer frames (or raise $PLAYGROUND_APP_MAX_TILE_CLIPS when self-hosting)",
        )
