"""Video input and output: decoding files with decord, accepting arrays, sampling, resizing, chunks, tiles, MP4 writing.

Reading goes through `read_video` (decord), which samples frames (first N, uniform N, at a given
fps, from a start time) and decodes them straight to the working size (`READ_SIDE`, 480 px on the
long side, by default), so no full-resolution frame is ever held. Limits on what one read may
decode (`MAX_FRAME_PIXELS` per source frame, `MAX_READ_FRAMES` frames, `MAX_DECODE_PIXELS` pixels
in all) keep its memory bounded whatever the input's resolution or length; each is an argument
(`max_frame_pixels`, `max_frames`, `max_pixels`; None lifts it), and a read beyond one is refused in
one line that says what to change (`DecodeLimitError`).
Every bad input (a missing or empty file, non-video bytes, a truncated file, an audio-only file,
a still image, absurd sizes, wrong knobs) raises `PlaygroundError` with a one-line message; the
file is sniffed before decord sees it, so decord's own tracebacks never reach users.

Still images (png/jpg/...) are rejected with a message saying so: the gazers work on videos, and
a silent 1-frame video would hide a wrong upload.

Writing goes through `write_video` (imageio-ffmpeg, H.264 yuv420p, even sizes, faststart),
into a temporary file that is renamed atomically, so an output is either complete or absent.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import tempfile
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import torch

from .errors import PlaygroundError, check
from .knobs import CLIP_LEN, MAX_FRAME_PIXELS, MAX_SIDE, NUM_FRAMES, READ_SIDE
from .pixels import resize
from .tiling import TileLayout, tile_layout

# imageio-ffmpeg starts ffmpeg with preexec_fn=os.setpgrp unless told not to, and preexec_fn can
# deadlock when several threads write videos at once (the app, notebooks); its documented switch:
os.environ.setdefault("IMAGEIO_FFMPEG_NO_PREVENT_SIGINT", "1")

# File suffixes worth offering in an upload box; reading itself goes by content, not by suffix.
VIDEO_SUFFIXES = (
    ".mp4",
    ".m4v",
    ".mov",
    ".webm",
    ".mkv",
    ".avi",
    ".mpg",
    ".mpeg",
    ".ts",
    ".flv",
    ".ogv",
    ".3gp",
    ".wmv",
)
SAMPLINGS = ("uniform", "first", "fps")
RESIZE_POLICIES = ("squash", "crop", "pad")
# MAX_SIDE, READ_SIDE (the read size) and MAX_FRAME_PIXELS are in `knobs` (the CLI's --help shows them).
# Default limits of one read (each an overridable argument of `read_video`; None lifts it), MAX_FRAME_PIXELS too:
MAX_READ_FRAMES = 1024  # frames one read returns, so that a path given without num_frames cannot mean 180,000
MAX_DECODE_PIXELS = 32_000_000  # frames x H x W at the working size (96 MB of RGB: 246 frames of 480x270)
MAX_DECODE_BYTES = 4 * 1024**3  # and a ceiling no argument lifts: never return more than 4 GiB of frames
_PROBE_TIMEOUT_S = 20  # ffmpeg reads only the header; this bounds a pathological file
_DECODE_CHUNK = 32  # frames fetched from decord per call, so peak memory stays near the output size
_CHUNK_BYTES = 64 * 1024**2  # and at most this many bytes of (working-size) frames per call (decord's copy and ours)
_DECODER_BYTES = (
    96 * 1024**2
)  # frame-threaded decoders hold a native frame or more per thread: threads x frame stay under this
_MAX_DECODER_THREADS = 4  # decoding a few sampled frames gains little from more
_VFR_SLACK = 0.5  # frames: a timestamp further than this from i / fps means the frames are not at a constant rate
_SELECT_CHARS = (
    20_000  # longest frame-selection expression handed to ffmpeg; beyond it, a range is kept and filtered here
)

# Leading bytes of still-image formats, so that an image is refused as an image (whatever its suffix).
_IMAGE_MAGIC = {
    b"\x89PNG": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF8": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}
# Atom names that may open an ISO-BMFF (mp4/mov/3gp) file at byte 4.
_MP4_ATOMS = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot", b"uuid")


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as decord reports it.

    Most files hold frames at a constant rate: frame i starts at i / fps. Sparse and variable-rate
    files (cinepak AVIs, older cameras, screen recorders: 68 frames over a 29.6 s header at 15 fps)
    carry `frame_times`, each frame's start in seconds from the first, read from the file's own
    timestamps; `fps` is then their average rate and sampling goes by those times (`frame_time`).
    """

    num_frames: int  # frames in the file
    fps: float  # average frames per second
    height: int  # frame height H in pixels
    width: int  # frame width W in pixels
    duration_s: float  # num_frames / fps
    # float64 (num_frames,) start of each frame in seconds, for frames not at a constant rate (else None)
    frame_times: np.ndarray | None = field(default=None, compare=False, repr=False)

    def frame_time(self, index: int) -> float:
        """The time in seconds at which frame `index` starts (`duration_s` for index == num_frames)."""
        if index >= self.num_frames:
            return self.duration_s
        return index / self.fps if self.frame_times is None else float(self.frame_times[index])


# ---- accepting any video input --------------------------------------------------------------


def as_clips(video: Any, **read_kwargs) -> np.ndarray:
    """Any accepted video input -> uint8 (B, T, H, W, 3), C-contiguous.

    Accepts a path (video file or `.npy`), a uint8 array/tensor (T,H,W,3) or (B,T,H,W,3).
    `read_kwargs` go to `read_video` for files: by default every frame (at most MAX_READ_FRAMES)
    at READ_SIDE px on the long side; `max_side=None` reads the native size.

    Arrays, tensors and `.npy` files get the limits paths get, checked on their shape before anything
    is copied (a broadcast view costs nothing until copied): `max_frames` frames a clip, `max_frame_pixels`
    pixels a frame and `max_pixels` pixels in all (B x T x H x W). Each is a keyword here (None lifts
    it); their defaults are MAX_READ_FRAMES, MAX_FRAME_PIXELS and MAX_DECODE_PIXELS, or what an
    enclosing `input_limits(...)` block sets, which is how every entry point that takes a video
    (`gaze`, `stream`, `reconstruct`, `answer`, ...) can be given more. A video beyond one raises
    `DecodeLimitError`, one line naming the limit.
    """
    clips = clips_view(video, **read_kwargs)
    mapped = isinstance(clips, np.memmap) or isinstance(clips.base, np.memmap)  # a .npy: read it into memory now
    return np.array(clips) if mapped else np.ascontiguousarray(clips)


def frame_source(frames: Any) -> tuple[Iterable[np.ndarray], int | None]:
    """A clip/batch/path -> its frames (B, H, W, 3) in order and T; an iterable -> itself, None."""
    if isinstance(frames, (str, Path, np.ndarray, torch.Tensor)):
        clips = as_clips(frames)
        return (clips[:, t] for t in range(clips.shape[1])), clips.shape[1]

    def frames_of(items):
        for f in items:
            f = f.detach().cpu().numpy() if isinstance(f, torch.Tensor) else np.asarray(f)
            check(
                f.dtype == np.uint8 and f.ndim in (3, 4) and f.shape[-1] == 3,
                f"streamed frames must be uint8 (H,W,3) or (B,H,W,3), got {f.dtype} {tuple(f.shape)}",
            )
            yield f if f.ndim == 4 else f[None]

    check(isinstance(frames, Iterable), f"cannot stream frames from {type(frames).__name__}")
    return frames_of(frames), None


def clips_view(video: Any, **read_kwargs) -> np.ndarray:
    """`as_clips` without its final copy: the checked input as a (B, T, H, W, 3) uint8 array, a view of
    an array or a memory-mapped `.npy` (whole-video gazing copies it chunk by chunk)."""
    limits = _input_limits(read_kwargs)
    if isinstance(video, (str, Path)):
        path = Path(video)
        video = _load_npy(path) if path.suffix.lower() == ".npy" else read_video(path, **limits, **read_kwargs)
    tensor = isinstance(video, torch.Tensor)
    check(
        tensor or isinstance(video, np.ndarray), f"a video must be a path or a uint8 array, got {type(video).__name__}"
    )
    check(video.dtype == (torch.uint8 if tensor else np.uint8), f"video arrays must be uint8, got {video.dtype}")
    if video.ndim == 4:
        video = video[None]
    check(
        video.ndim == 5 and video.shape[-1] == 3,
        f"a video array must be (T,H,W,3) or (B,T,H,W,3), got shape {tuple(video.shape)}",
    )
    check(video.shape[0] > 0, "the video array holds zero clips (its first axis is 0)")
    check(video.shape[1] > 0, "the video has zero frames")
    check(min(video.shape[2:4]) >= 8, f"frames of {video.shape[2]}x{video.shape[3]} px are too small")
    _check_array_limits(tuple(video.shape), **limits)  # before a tensor leaves its device or anything is copied
    return video.detach().cpu().numpy() if tensor else video


LIMIT_NAMES = ("max_frames", "max_pixels", "max_frame_pixels")  # the overridable limits of a read or an array
_LIMITS: ContextVar[dict[str, int | None]] = ContextVar("playground_input_limits", default={})


@contextmanager
def input_limits(**limits: int | None) -> Iterator[None]:
    """Within the block, the limits every entry point applies to the video it is given (`as_clips`).

    `with input_limits(max_frames=None): gazer.gaze(long_array)` lifts one limit (None = no limit);
    `max_frames`, `max_pixels` and `max_frame_pixels` mean what they mean in `read_video` and apply
    to paths too. The setting is the calling thread's (a `ContextVar`), so concurrent callers (the
    app's) do not see each other's. Whole-video gazing and the CLI's runs, whose batches are bounded
    by their own settings, give their inner calls no limits this way.
    """
    check(set(limits) <= set(LIMIT_NAMES), f"input_limits takes {', '.join(LIMIT_NAMES)}, got {sorted(limits)}")
    _check_limit_values(limits)
    token = _LIMITS.set({**_LIMITS.get(), **limits})
    try:
        yield
    finally:
        _LIMITS.reset(token)


NO_LIMITS = dict.fromkeys(LIMIT_NAMES)  # `input_limits(**NO_LIMITS)`: for batches bounded elsewhere


def _input_limits(kwargs: dict[str, Any]) -> dict[str, int | None]:
    """The limits of one call: those named in `kwargs` (taken out of it), else the enclosing
    `input_limits` block's, else the module's defaults."""
    limits = {
        "max_frames": MAX_READ_FRAMES,
        "max_pixels": MAX_DECODE_PIXELS,
        "max_frame_pixels": MAX_FRAME_PIXELS,
        **_LIMITS.get(),
    }
    limits.update((name, kwargs.pop(name)) for name in LIMIT_NAMES if name in kwargs)
    _check_limit_values(limits)
    return limits


def _check_limit_values(limits: dict[str, Any]) -> None:
    for name, limit in limits.items():
        check(
            limit is None or (_is_whole(limit) and limit > 0),
            f"{name} must be a positive integer or None (no limit), got {limit!r}",
        )


def _check_array_limits(
    shape: tuple[int, ...], max_frames: int | None, max_pixels: int | None, max_frame_pixels: int | None
) -> None:
    """Refuse a (B, T, H, W, 3) video array beyond a limit, in one line naming it."""
    B, T, H, W = shape[:4]
    where = f"a video array of shape {shape}"
    if max_frame_pixels is not None and H * W > max_frame_pixels:
        raise DecodeLimitError(
            "max_frame_pixels",
            f"{where} has frames of {W}x{H} ({H * W:,} pixels), over the limit of {max_frame_pixels:,} a frame",
            ARRAY_REMEDIES["max_frame_pixels"],
        )
    if max_frames is not None and T > max_frames:
        raise DecodeLimitError(
            "max_frames",
            f"{where} has {T:,} frames a clip, over the limit of {max_frames:,}",
            ARRAY_REMEDIES["max_frames"],
        )
    if max_pixels is not None and B * T * H * W > max_pixels:
        raise DecodeLimitError(
            "max_pixels",
            f"{where} holds {B * T * H * W:,} pixels, over the limit of {max_pixels:,}",
            ARRAY_REMEDIES["max_pixels"],
        )


_LIFT = "or raise {0} (None = no limit; as_clips' argument, or around any call: with input_limits({0}=...))"
ARRAY_REMEDIES = {  # what the refusal of an array says to change (DecodeLimitError.API_REMEDIES for paths)
    "max_frame_pixels": "downscale the frames first (resize_frames), " + _LIFT.format("max_frame_pixels"),
    "max_frames": "pass fewer frames (gaze_video takes any length, chunk by chunk), " + _LIFT.format("max_frames"),
    "max_pixels": "pass fewer or smaller clips, " + _LIFT.format("max_pixels"),
}


def _load_npy(path: Path) -> np.ndarray:
    """A `.npy` file memory-mapped (nothing read yet), or one line saying why it cannot be."""
    check(path.is_file(), f"no such file: {path}")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise PlaygroundError(f"{path} is not a readable .npy array: {exc}") from None


# ---- reading files --------------------------------------------------------------------------


class DecodeLimitError(PlaygroundError):
    """A read refused by one of `read_video`'s limits, in one line that says what to change.

    `limit` is the argument that was exceeded ("max_frame_pixels", "max_frames" or "max_pixels") and
    `fact` what the read would have decoded. The message ends with the API's remedy; an entry point
    with other knob names (the CLI's flags, the app's settings) rewords it with `remedy(...)`.
    """

    API_REMEDIES = {
        "max_frame_pixels": "downscale the video first, or raise max_frame_pixels (None = no limit)",
        "max_frames": "pass num_frames, fps or start/end (to gaze a path: gaze(playground.as_clips(path, "
        "num_frames=16))), or raise max_frames (None = no limit)",
        "max_pixels": "ask for fewer frames (num_frames, fps, start/end) or a smaller max_side, "
        "or raise max_pixels (None = no limit)",
    }

    def __init__(self, limit: str, fact: str, remedy: str | None = None):
        self.limit, self.fact = limit, fact
        super().__init__(f"{fact}; {remedy or self.API_REMEDIES[limit]}")

    def remedy(self, remedies: dict[str, str]) -> "DecodeLimitError":
        """The same refusal with the remedy an entry point names for this limit (the API's if it has none)."""
        return DecodeLimitError(self.limit, self.fact, remedies.get(self.limit))


def _sniff(path: Path) -> None:
    """Refuse, with a one-line reason, anything that is not a plausible video container."""
    check(path.exists(), f"no such file: {path}")
    check(not path.is_dir(), f"{path} is a directory, not a video file")
    check(path.is_file(), f"{path} is not a regular file")
    size = path.stat().st_size
    check(size > 0, f"{path} is empty (0 bytes)")
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as exc:
        raise PlaygroundError(f"cannot read {path}: {exc.strerror or exc}") from exc
    for magic, kind in _IMAGE_MAGIC.items():
        if head.startswith(magic):
            raise PlaygroundError(
                f"{path} is a still {kind} image, not a video; give a video file "
                f"(mp4/webm/mov/avi/mkv) or a (T,H,W,3) array"
            )
    check(size >= 64, f"{path} is too small ({size} bytes) to be a video")
    if not _looks_like_video(head):
        raise PlaygroundError(f"{path} is not a video file (unrecognised content; expected mp4/webm/mov/avi/mkv)")


def _header(path: Path) -> tuple[int, int, float | None]:
    """(width, height) of the first video stream and the container duration in seconds (None if
    unknown or if the file has an audio track, whose length may differ), from ffmpeg's reading of the header.

    ffmpeg runs in a subprocess with a timeout, so a pathological file cannot hang or crash us,
    and an absurd frame size is refused before decord allocates a frame.
    """
    import imageio_ffmpeg

    try:
        result = subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise PlaygroundError(f"{path} could not be probed within {_PROBE_TIMEOUT_S} s (a damaged file?)") from None
    streams = [line for line in result.stderr.splitlines() if re.search(r"Stream #\S+.*: Video:", line)]
    if not streams:
        if "Audio:" in result.stderr:
            raise PlaygroundError(f"{path} has no video stream (an audio-only file)")
        if "Input #0" in result.stderr and "Stream #" not in result.stderr:
            raise PlaygroundError(f"{path} holds no streams at all (a video with zero frames?)")
        raise PlaygroundError(f"{path} could not be decoded: it is truncated, corrupt or not a supported video")
    match = re.search(r"\b([1-9]\d*)x([1-9]\d*)\b", streams[0])
    check(match is not None, f"{path}: ffmpeg reports no frame size for its video stream")
    width, height = int(match.group(1)), int(match.group(2))
    check(
        width <= MAX_SIDE and height <= MAX_SIDE,
        f"{path} has {width}x{height} frames; the playground refuses sides above {MAX_SIDE} px",
    )
    duration = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", result.stderr)
    seconds = None
    if duration and "Audio:" not in result.stderr:
        seconds = 3600 * int(duration.group(1)) + 60 * int(duration.group(2)) + float(duration.group(3))
    return width, height, seconds


def _looks_like_video(head: bytes) -> bool:
    """True if the leading bytes match a container that ffmpeg/decord can read."""
    return (
        head[4:8] in _MP4_ATOMS  # mp4 / mov / 3gp / m4v
        or head.startswith(b"\x1a\x45\xdf\xa3")  # Matroska / WebM (EBML)
        or (head.startswith(b"RIFF") and head[8:12] == b"AVI ")
        or head.startswith((b"FLV", b"OggS", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"))  # flv, ogg, mpeg-ps
        or head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11")  # asf / wmv
        or (len(head) > 188 and head[0] == 0x47 and head[188] == 0x47)
    )  # mpeg-ts packets


def _open(path: Path, size: tuple[int, int] | None = None, threads: int = 1):
    """A decord VideoReader on a sniffed `path`, with decord errors turned into one line.

    With `size` (H, W), decord's scaler (ffmpeg's bilinear swscale, which filters when shrinking)
    shrinks every frame as it is decoded, so no native-size frame reaches Python; `threads` bounds
    the decoder's frame threads, each of which holds native frames.
    """
    import decord

    decord.logging.set_level(decord.logging.QUIET)  # keep ffmpeg's per-packet complaints off the console
    height, width = size or (-1, -1)
    try:
        return decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=threads, width=width, height=height)
    except Exception as exc:  # decord raises DECORDError/RuntimeError with multi-line C++ traces
        raise PlaygroundError(_explain(path, exc)) from None


def _explain(path: Path, exc: Exception) -> str:
    """A one-line reason for a decord failure."""
    text = str(exc)
    if "cannot find video stream" in text:
        return f"{path} has no video stream (an audio-only file, or zero video frames)"
    if "broken metadata" in text:
        return f"{path} has broken metadata (a still image or a damaged video?)"
    return f"{path} could not be decoded: it is truncated, corrupt or not a supported video"


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video file's header: frame count, fps and size, without decoding frames.

    Args:
        path: a video file (mp4/webm/mov/avi/mkv/...).

    Returns:
        VideoInfo.

    Raises:
        PlaygroundError: missing/empty/non-video/truncated/audio-only file, a still image,
            zero frames or frames larger than MAX_SIDE.
    """
    return _probe(Path(path))[0]


def _probe(path: Path, max_side: int | None = None, max_frame_pixels: int | None = None):
    """(VideoInfo, a decord reader decoding at the working size, that size (H, W)) after the sniff,
    the ffmpeg header check and the per-frame pixel limit."""
    _sniff(path)
    width, height, header_s = _header(path)
    if max_frame_pixels is not None and width * height > max_frame_pixels:
        raise DecodeLimitError(
            "max_frame_pixels",
            f"{path} has {width}x{height} frames ({width * height:,} pixels), "
            f"over the limit of {max_frame_pixels:,} pixels a frame",
        )
    size = _fit_size(height, width, max_side)
    reader = _open(path, None if size == (height, width) else size, _decoder_threads(height, width))
    try:
        num_frames = len(reader)
        fps = float(reader.get_avg_fps())
    except Exception as exc:
        raise PlaygroundError(_explain(path, exc)) from None
    check(num_frames > 0, f"{path} has zero video frames")
    if not (math.isfinite(fps) and fps > 0):
        fps = 25.0  # some containers carry no rate; assume the common default rather than divide by zero
    times = _timestamps(reader, num_frames)
    # What the frames present cover: their count at the stated rate, or their own timestamps (a sparse
    # AVI holds 68 frames over its 29.6 s at "15 fps"), whichever is longer.
    covered = num_frames / fps if times is None else max(num_frames / fps, float(times[-1, 1]))
    if header_s is not None and covered < 0.75 * header_s - 0.2:
        # Streaming containers (mkv/webm) cut short still open; their header keeps the full length.
        raise PlaygroundError(
            f"{path} is truncated: its header says {header_s:.2f} s but its frames cover only {covered:.2f} s"
        )
    if times is None or np.abs(times[:, 0] - np.arange(num_frames) / fps).max() <= _VFR_SLACK / fps:
        return VideoInfo(int(num_frames), fps, height, width, num_frames / fps), reader, size
    # Sparse or variable-rate frames: sample by their timestamps; the last one shows until the header's end.
    duration = max(float(times[-1, 1]), header_s or 0.0)
    frame_times = np.ascontiguousarray(times[:, 0])
    frame_times.setflags(write=False)
    return (VideoInfo(int(num_frames), num_frames / duration, height, width, duration, frame_times), reader, size)


def _timestamps(reader, num_frames: int) -> np.ndarray | None:
    """float64 (num_frames, 2): each frame's (start, end) in seconds from the first frame's start, as
    the container's index gives them (nothing is decoded); None where they are unusable (MPEG-PS
    leaves B-frames without one, which decord reports as -1e14) or out of order."""
    try:
        times = np.asarray(reader.get_frame_timestamp(np.arange(num_frames)), dtype=np.float64)
    except Exception:
        return None
    if times.shape != (num_frames, 2) or not np.isfinite(times).all():
        return None
    times -= times[0, 0]
    if not (np.all(np.diff(times[:, 0]) > 0) and times[0, 0] == 0.0 and times[-1, 1] >= times[-1, 0]):
        return None
    return times


def _decoder_threads(height: int, width: int) -> int:
    """Decoder threads for native frames of this size: frame threading holds about a frame per thread."""
    frame_bytes = max(1, height * width * 3 // 2)  # a yuv420 frame
    return max(1, min(_MAX_DECODER_THREADS, os.cpu_count() or 1, _DECODER_BYTES // frame_bytes))


def read_video(
    path: str | Path,
    num_frames: int | None = None,
    sampling: str = "uniform",
    fps: float | None = None,
    start: float = 0.0,
    end: float | None = None,
    max_side: int | None = READ_SIDE,
    max_pixels: int | None = MAX_DECODE_PIXELS,
    max_frames: int | None = MAX_READ_FRAMES,
    max_frame_pixels: int | None = MAX_FRAME_PIXELS,
) -> np.ndarray:
    """Decode frames of a video file.

    Args:
        path: a video file (mp4/webm/mov/avi/mkv/...).
        num_frames: frames to return (None = every frame the sampling yields). With "uniform" and
            "first", a window holding fewer frames returns them all (no repeats).
        sampling: "uniform" (evenly spread over [start, end)), "first" (consecutive from `start`)
            or "fps" (one frame every 1/fps seconds from `start`, capped by num_frames).
        fps: the sampling rate for sampling="fps" (> 0).
        start: start time in seconds (>= 0, before the end of the video).
        end: end time in seconds (exclusive; None = the end of the video).
        max_side: the working size: frames are decoded straight to a long side of at most this
            (aspect ratio kept, sides even; never upscaled). Default READ_SIDE (480 px), the frame
            size the app and the CLI read; None = the native size.
        max_pixels: refuse to decode more than this many pixels in all (frames x H x W at the
            working size; default MAX_DECODE_PIXELS; None = no limit).
        max_frames: refuse a read of more frames than this (default MAX_READ_FRAMES, so that a
            path given without num_frames cannot decode a whole film; None = no limit).
        max_frame_pixels: refuse source frames of more pixels than this (width x height before
            scaling; default MAX_FRAME_PIXELS, DCI 8K; None = no limit but MAX_SIDE).

    Returns:
        uint8 (T, H, W, 3) RGB frames.

    Raises:
        DecodeLimitError: a read beyond max_frame_pixels, max_frames or max_pixels (one line naming
            the argument to change).
        PlaygroundError: bad file (see `probe_video`), bad knobs, or more than MAX_DECODE_BYTES of output.
    """
    return _read(Path(path), num_frames, sampling, fps, start, end, max_side, max_pixels, max_frames, max_frame_pixels)[
        0
    ]


def _read(
    path: Path, num_frames, sampling, fps, start, end, max_side, max_pixels, max_frames, max_frame_pixels
) -> tuple[np.ndarray, VideoInfo]:
    """`read_video`'s work, also returning the header it probed (so callers need not probe again)."""
    _check_knobs(num_frames, sampling, fps, start, end, max_side)
    _check_limit_values({"max_pixels": max_pixels, "max_frames": max_frames, "max_frame_pixels": max_frame_pixels})
    info, reader, (height, width) = _probe(path, max_side, max_frame_pixels)
    index = sample_indices(info, num_frames, sampling, fps, start, end)
    if max_frames is not None and len(index) > max_frames:
        unasked = " (every frame: num_frames not given)" if num_frames is None else ""
        raise DecodeLimitError(
            "max_frames", f"{path}: this read takes {len(index):,} frames{unasked}, over the limit of {max_frames:,}"
        )
    pixels = len(index) * height * width
    if max_pixels is not None and pixels > max_pixels:
        raise DecodeLimitError(
            "max_pixels",
            f"{path}: {len(index):,} frames of {width}x{height} px are "
            f"{pixels:,} pixels, over the limit of {max_pixels:,}",
        )
    need = pixels * 3
    check(
        need <= MAX_DECODE_BYTES,
        f"{path}: {len(index)} frames of {width}x{height} need {need / 1024**3:.1f} GiB; "
        f"ask for fewer frames (num_frames, fps, start/end) or a smaller max_side",
    )
    return _decode_indices(path, reader, index, height, width, _decoder_threads(info.height, info.width)), info


NPY_PLAY_FPS = 8.0  # a .npy clip carries no frame rate; play it at this one


def read_clip(
    path: str | Path,
    num_frames: int = NUM_FRAMES,
    fps: float | None = None,
    start: float = 0.0,
    max_side: int | None = READ_SIDE,
    max_pixels: int | None = MAX_DECODE_PIXELS,
    max_frames: int | None = MAX_READ_FRAMES,
    max_frame_pixels: int | None = MAX_FRAME_PIXELS,
) -> tuple[np.ndarray, float, VideoInfo | None]:
    """One clip to gaze and show: frames spread uniformly (or at `fps`) from `start`, and how to play them.

    Args:
        path: a video file, or a uint8 `.npy` holding one clip (T,H,W,3).
        num_frames: frames to take (at most).
        fps: sample at this rate instead of spreading `num_frames` uniformly.
        start: start time in seconds (ignored for `.npy`).
        max_side: decode to a long side of at most this (default READ_SIDE; None = native size).
        max_pixels, max_frames, max_frame_pixels: the limits of `read_video` (None lifts one).

    Returns:
        frames: uint8 (T, H, W, 3).
        play_fps: the rate that plays the sampled frames over the time they span.
        info: the file's header (None for `.npy`).
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":  # memory-mapped: only the frames taken are read, within the same limits
        array = _load_npy(path)
        clips = as_clips(
            array[:, :num_frames] if array.ndim == 5 else array[:num_frames],
            max_pixels=max_pixels,
            max_frames=max_frames,
            max_frame_pixels=max_frame_pixels,
        )
        check(clips.shape[0] == 1, f"{path.name} holds {clips.shape[0]} clips; give one clip (T,H,W,3)")
        return clips[0], NPY_PLAY_FPS, None
    sampling = "fps" if fps else "uniform"
    frames, info = _read(
        path, num_frames, sampling, fps, start, None, max_side, max_pixels, max_frames, max_frame_pixels
    )
    span = max(info.duration_s - start, 1e-6)
    play_fps = fps or max(1.0, min(info.fps, len(frames) / span))
    return frames, float(play_fps), info


@dataclass
class FrameStream:
    """A video read chunk by chunk, so memory holds one chunk whatever the video's length.

    `chunks` yields uint8 (chunk_len, H, W, 3) arrays of consecutive sampled frames (the last may
    be shorter); iterate it once.
    """

    path: Path  # the file read
    info: VideoInfo | None  # its header (None for .npy)
    indices: np.ndarray  # (T,) int64 frame indices read, in order
    height: int  # H of the frames read (the working size)
    width: int  # W of the frames read
    play_fps: float  # the rate that plays the sampled frames at their real speed
    chunks: Iterator[np.ndarray]  # uint8 (chunk_len, H, W, 3) chunks

    @property
    def num_frames(self) -> int:
        return len(self.indices)


def stream_video(
    path: str | Path,
    chunk_len: int = CLIP_LEN,
    num_frames: int | None = None,
    fps: float | None = None,
    start: float = 0.0,
    max_side: int | None = None,
    sampling: str = "first",
    max_frame_pixels: int | None = MAX_FRAME_PIXELS,
) -> FrameStream:
    """Read frames of a video in chunks of `chunk_len`: every frame, one every 1/fps s, or N spread.

    Unlike `read_video`, nothing bounds the frame count: only one chunk is decoded at a time. A
    `.npy` clip (T,H,W,3) is memory-mapped and cut the same way (its first `num_frames`).

    Args:
        path: a video file or a uint8 `.npy` clip.
        chunk_len: frames per chunk (> 0).
        num_frames: at most this many frames (None: to the end).
        fps: one frame every 1/fps seconds from `start` (overrides `sampling`).
        start: start time in seconds (ignored for `.npy`).
        sampling: "first" (consecutive frames from `start`) or "uniform" (`num_frames` spread over
            the rest of the video, as `read_clip` samples).
        max_side: decode to a long side of at most this (None: the native size).
        max_frame_pixels: refuse source frames of more pixels than this (None: no limit but MAX_SIDE).
    """
    path = Path(path)
    check(
        isinstance(chunk_len, (int, np.integer)) and chunk_len > 0,
        f"chunk_len must be a positive integer, got {chunk_len!r}",
    )
    if path.suffix.lower() == ".npy":
        return _stream_npy(path, chunk_len, num_frames)
    sampling = "fps" if fps else sampling
    _check_knobs(num_frames, sampling, fps, start, None, max_side)
    info, reader, (height, width) = _probe(path, max_side, max_frame_pixels)
    del reader  # decord's reader grows with the position read (about 1.5 GB by frame 64 of a 4K file): ffmpeg streams
    index = sample_indices(info, num_frames, sampling, fps, start)
    threads = _decoder_threads(info.height, info.width)

    def chunks() -> Iterator[np.ndarray]:
        out, filled, done = None, 0, 0
        for slots, frame in _ffmpeg_frames(path, index, height, width, threads):
            for _ in slots:  # a frame asked for twice (a high fps) fills two places
                if out is None:
                    out, filled = np.empty((min(chunk_len, len(index) - done), height, width, 3), np.uint8), 0
                out[filled] = frame
                filled, done = filled + 1, done + 1
                if filled == len(out):
                    yield out
                    out = None

    play_fps = fps or (
        info.fps if sampling == "first" else max(1.0, min(info.fps, len(index) / max(info.duration_s - start, 1e-6)))
    )
    return FrameStream(path, info, index, height, width, float(play_fps), chunks())


def _stream_npy(path: Path, chunk_len: int, num_frames: int | None) -> FrameStream:
    array = _load_npy(path)
    check(
        array.dtype == np.uint8 and array.ndim == 4 and array.shape[-1] == 3 and array.shape[0] > 0,
        f"{path.name} must hold one uint8 clip (T,H,W,3), got {array.dtype} {tuple(array.shape)}",
    )
    T = array.shape[0] if num_frames is None else min(array.shape[0], num_frames)

    def chunks() -> Iterator[np.ndarray]:
        for lo in range(0, T, chunk_len):
            yield np.ascontiguousarray(array[lo : min(T, lo + chunk_len)])

    return FrameStream(path, None, np.arange(T, dtype=np.int64), array.shape[1], array.shape[2], NPY_PLAY_FPS, chunks())


def _check_knobs(num_frames, sampling, fps, start, end, max_side) -> None:
    check(sampling in SAMPLINGS, f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    if num_frames is not None:
        check(
            isinstance(num_frames, (int, np.integer)) and not isinstance(num_frames, bool) and num_frames > 0,
            f"num_frames must be a positive integer, got {num_frames!r}",
        )
    if sampling == "fps":
        check(fps is not None, "sampling='fps' needs an fps value")
    if fps is not None:
        check(isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0, f"fps must be > 0, got {fps!r}")
    check(
        isinstance(start, (int, float)) and math.isfinite(start) and start >= 0,
        f"start must be a time >= 0 in seconds, got {start!r}",
    )
    if end is not None:
        check(isinstance(end, (int, float)) and end > start, f"end ({end!r}) must be after start ({start!r})")
    if max_side is not None:
        check(
            _is_whole(max_side) and max_side >= 8,
            f"max_side must be an integer >= 8 or None (native size), got {max_side!r}",
        )


def _is_whole(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def sample_indices(
    info: VideoInfo,
    num_frames: int | None = None,
    sampling: str = "uniform",
    fps: float | None = None,
    start: float = 0.0,
    end: float | None = None,
) -> np.ndarray:
    """Frame indices a `read_video` call decodes (see there for the knobs).

    Times are real seconds: for sparse or variable-rate files (`VideoInfo.frame_times`), `start` and
    `end` pick frames by their timestamps and "fps" takes the frame shown every 1/fps s from `start`
    ("uniform" spreads the samples over the frames in the window, "first" takes them consecutively).

    Returns:
        int64 (T,) indices into the file's frames, non-decreasing.
    """
    _check_knobs(num_frames, sampling, fps, start, end, None)
    check(start < info.duration_s, f"start {start:g} s is past the end of the video ({info.duration_s:.2f} s)")
    first = min(_frame_at(info, start), info.num_frames - 1)
    stop = info.num_frames if end is None else min(info.num_frames, max(first + 1, _frames_before(info, end)))
    available = stop - first
    if sampling == "first":
        return np.arange(first, first + min(available, num_frames or available), dtype=np.int64)
    if sampling == "uniform":
        n = min(available, num_frames or available)
        # Centre each sample in its 1/n share of the window, as video samplers usually do.
        return (first + np.floor((np.arange(n) + 0.5) * available / n)).astype(np.int64)
    sparse = info.frame_times is not None  # sparse or variable-rate frames: go by their timestamps
    window_s = (min(info.duration_s, math.inf if end is None else end) - start) if sparse else available / info.fps
    n = max(1, int(math.floor(window_s * fps + 1e-6)))
    n = min(n, num_frames) if num_frames else n
    times = np.arange(n) / fps
    if sparse:  # the frame shown every 1/fps s from `start`
        shown = np.searchsorted(info.frame_times, start + times + 1e-6, side="right") - 1
        return np.clip(shown, first, stop - 1).astype(np.int64)
    return np.minimum(first + np.floor(times * info.fps + 1e-6).astype(np.int64), stop - 1)


def _frame_at(info: VideoInfo, seconds: float) -> int:
    """The frame shown at `seconds`: the last one starting at or before it."""
    if info.frame_times is None:
        return int(math.floor(seconds * info.fps + 1e-6))
    return max(0, int(np.searchsorted(info.frame_times, seconds + 1e-6, side="right")) - 1)


def _frames_before(info: VideoInfo, seconds: float) -> int:
    """How many frames start before `seconds` (an exclusive end time)."""
    if info.frame_times is None:
        return math.ceil(seconds * info.fps - 1e-6)
    return int(np.searchsorted(info.frame_times, seconds - 1e-6, side="left"))


def _fit_size(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """(H, W) shrunk so the long side is <= max_side, aspect kept, sides even (decoders prefer them)."""
    if max_side is None or max(height, width) <= max_side:
        return height, width
    scale = max_side / max(height, width)
    return max(2, 2 * round(height * scale / 2)), max(2, 2 * round(width * scale / 2))


def _decode_indices(path: Path, reader, index: np.ndarray, height: int, width: int, threads: int = 1) -> np.ndarray:
    """Frames `index` as one (T, height, width, 3) array, fetched chunk by chunk from `reader`.

    The reader decodes straight to (height, width) (see `_open`), so only working-size frames are
    ever held. decord fails on some valid files and some (output) widths, e.g. 48 or 72 px; then
    ffmpeg decodes the file instead (`_decode_ffmpeg`), with the same scaler.
    """
    out = np.empty((len(index), height, width, 3), dtype=np.uint8)
    chunk = max(1, min(_DECODE_CHUNK, _CHUNK_BYTES // (height * width * 3)))  # bounds the copies decord makes
    try:
        for lo in range(0, len(index), chunk):
            _put(out, lo, reader.get_batch(index[lo : lo + chunk].tolist()).asnumpy())
    except PlaygroundError:
        raise
    except Exception:
        return _decode_ffmpeg(path, index, out, threads)
    return out


def _put(out: np.ndarray, lo: int, batch: np.ndarray) -> None:
    """Write decoded frames (n, h, w, 3) into out[lo:lo + n], resized to out's frame size if needed."""
    if batch.shape[1:3] != out.shape[1:3]:
        batch = resize_frames(batch, out.shape[1:3])
    out[lo : lo + len(batch)] = batch


def _decode_ffmpeg(path: Path, index: np.ndarray, out: np.ndarray, threads: int = 1) -> np.ndarray:
    """Fallback decoder: ffmpeg (`_ffmpeg_frames`) fills `out` with frames `index` at out's frame size."""
    height, width = out.shape[1:3]
    for slots, frame in _ffmpeg_frames(path, index, height, width, threads):
        out[slots] = frame
    return out


def _ffmpeg_frames(
    path: Path, index: np.ndarray, height: int, width: int, threads: int = 1
) -> Iterator[tuple[list[int], np.ndarray]]:
    """Frames `index` decoded by one ffmpeg process, in order: (positions in `index`, uint8 (H, W, 3)).

    ffmpeg, in a subprocess, keeps the wanted frames (its select filter), scales them to
    (height, width) (bilinear swscale, as decord does) and streams them here one at a time, so a
    long read holds one frame here and ffmpeg's few frames there. The process is killed when the
    generator is closed. Raises PlaygroundError if the stream ends before the last wanted frame
    (a truncated file).
    """
    import imageio_ffmpeg

    wanted: dict[int, list[int]] = {}
    for k, i in enumerate(index.tolist()):
        wanted.setdefault(i, []).append(k)
    numbers = sorted(wanted)
    select = _select_expression(numbers)
    if len(select) > _SELECT_CHARS:  # too long for one argument: ffmpeg keeps the whole span, the rest is dropped here
        numbers = list(range(numbers[0], numbers[-1] + 1))
        select = _select_expression(numbers)
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-noautorotate",
        "-threads",
        str(threads),
        "-i",
        str(path),
        "-map",
        "0:v:0",
        "-vf",
        f"select='{select}',scale={width}:{height}:flags=bilinear",
        "-fps_mode",
        "passthrough",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "pipe:",
    ]
    frame_bytes, decoded = height * width * 3, 0
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        for number in numbers:
            raw = process.stdout.read(frame_bytes)
            if len(raw) < frame_bytes:
                break  # a damaged stream ends early; the count below says so
            decoded += 1
            if number in wanted:
                yield wanted[number], np.frombuffer(raw, np.uint8).reshape(height, width, 3)
    finally:
        process.kill()
        process.stdout.close()
        process.wait()
    check(
        decoded == len(numbers),
        f"{path} is truncated or corrupt: only {decoded} of the {len(numbers)} frames needed could be decoded",
    )


def _select_expression(numbers: list[int]) -> str:
    """An ffmpeg `select` expression true for the frame numbers `numbers` (sorted, unique), runs as ranges."""
    terms, first = [], numbers[0]
    for previous, following in zip(numbers, numbers[1:] + [None]):
        if following != previous + 1:
            terms.append(f"eq(n,{first})" if first == previous else f"between(n,{first},{previous})")
            first = following
    return "+".join(terms)


# ---- reshaping frames -----------------------------------------------------------------------


def resize_frames(frames: np.ndarray, size: int | tuple[int, int], policy: str = "squash") -> np.ndarray:
    """Resize uint8 frames (..., H, W, 3) to (..., h, w, 3).

    Args:
        frames: uint8 (..., H, W, 3).
        size: target side (square) or (h, w).
        policy: "squash" (stretch to size, as the gazers do), "crop" (scale to cover, centre-crop)
            or "pad" (scale to fit, centre on black).

    Returns:
        uint8 (..., h, w, 3).
    """
    check(policy in RESIZE_POLICIES, f"policy must be one of {RESIZE_POLICIES}, got {policy!r}")
    frames = _as_frames(frames)
    h, w = (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    check(h > 0 and w > 0, f"size must be positive, got {size!r}")
    H, W = frames.shape[-3:-1]
    if policy == "squash":
        fit = (h, w)
    else:
        scale = max(h / H, w / W) if policy == "crop" else min(h / H, w / W)
        fit = (max(1, round(H * scale)), max(1, round(W * scale)))
    x = torch.from_numpy(np.ascontiguousarray(frames)).movedim(-1, -3).float()
    x = resize(x, fit, mode="bilinear").round().clamp(0, 255).to(torch.uint8).movedim(-3, -1).numpy()
    if policy == "crop":
        y0, x0 = (fit[0] - h) // 2, (fit[1] - w) // 2
        return np.ascontiguousarray(x[..., y0 : y0 + h, x0 : x0 + w, :])
    if policy == "pad":
        out = np.zeros((*x.shape[:-3], h, w, 3), dtype=np.uint8)
        y0, x0 = (h - fit[0]) // 2, (w - fit[1]) // 2
        out[..., y0 : y0 + fit[0], x0 : x0 + fit[1], :] = x
        return out
    return x


def chunk_frames(frames: np.ndarray, clip_len: int = CLIP_LEN, pad: str | None = "repeat") -> list[np.ndarray]:
    """Cut (T, H, W, 3) frames into consecutive clips of clip_len frames.

    Args:
        frames: uint8 (T, H, W, 3).
        clip_len: frames per clip (> 0).
        pad: "repeat" fills the last clip by repeating its last frame; None leaves it shorter.

    Returns:
        list of uint8 (clip_len, H, W, 3) arrays (the last may be shorter when pad is None).
    """
    frames = _as_frames(frames)
    check(frames.ndim == 4, f"chunk_frames needs (T,H,W,3) frames, got shape {tuple(frames.shape)}")
    check(
        isinstance(clip_len, (int, np.integer)) and clip_len > 0,
        f"clip_len must be a positive integer, got {clip_len!r}",
    )
    check(pad in ("repeat", None), f"pad must be 'repeat' or None, got {pad!r}")
    clips = [frames[i : i + clip_len] for i in range(0, len(frames), clip_len)]
    if pad == "repeat" and len(clips[-1]) < clip_len:
        last = clips[-1]
        clips[-1] = np.concatenate([last, np.repeat(last[-1:], clip_len - len(last), axis=0)])
    return clips


def tile_frames(frames: np.ndarray, tile: int = 224, overlap: int = 0) -> tuple[np.ndarray, TileLayout]:
    """Cut high-resolution frames into square tiles, each tile a clip over time (`playground.tiling`).

    Tiles step by `tile - overlap` from the top-left corner; the frame is padded right and bottom to
    whole tiles with `tiling.PAD_RGB` (the colour a gazer sees as nothing).

    Args:
        frames: uint8 (T, H, W, 3).
        tile: tile side in pixels.
        overlap: pixels shared by neighbours, 0 <= overlap < tile.

    Returns:
        tiles: uint8 (N, T, tile, tile, 3), N = rows * cols in row-major order: a batch of clips
            that a gazer can take directly.
        layout: the `TileLayout` that `untile_frames` and `TileLayout.to_frame` invert.
    """
    frames = _as_frames(frames)
    check(frames.ndim == 4, f"tile_frames needs (T,H,W,3) frames, got shape {tuple(frames.shape)}")
    check(isinstance(tile, (int, np.integer)) and tile > 0, f"tile must be a positive integer, got {tile!r}")
    layout = tile_layout(frames.shape[1], frames.shape[2], tile, overlap)
    return layout.cut(frames), layout


def untile_frames(tiles: np.ndarray, layout: TileLayout) -> np.ndarray:
    """Inverse of `tile_frames`: tiles (N, T, tile, tile, 3) -> frames (T, H, W, 3), overlaps averaged.

    The tiles may have been processed (e.g. reconstructed); they must keep the layout's shape.
    """
    return layout.paste(_as_frames(tiles))


def _as_frames(frames: Any) -> np.ndarray:
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    check(
        isinstance(frames, np.ndarray) and frames.dtype == np.uint8,
        f"frames must be a uint8 array, got {getattr(frames, 'dtype', type(frames).__name__)}",
    )
    check(frames.ndim >= 3 and frames.shape[-1] == 3, f"frames must be (..., H, W, 3), got shape {tuple(frames.shape)}")
    check(all(s > 0 for s in frames.shape), f"frames must not be empty, got shape {tuple(frames.shape)}")
    return frames


# ---- writing --------------------------------------------------------------------------------


class VideoWriter:
    """A browser-playable MP4 (H.264, yuv420p, faststart) written chunk by chunk, atomically.

    `with VideoWriter(path, fps) as out: out.write(frames)` for each uint8 (T, H, W, 3) chunk. The
    size is fixed by the first chunk; odd sides are padded by one edge-replicated row/column (yuv420p
    needs even sides). Frames go to a temporary file beside `path`, renamed when the block ends
    without an error, so `path` is never half-written (an error or Ctrl-C leaves no file).
    """

    def __init__(self, path: str | Path, fps: float = 8.0, quality: int = 7, preset: str = "medium"):
        check(isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0, f"fps must be > 0, got {fps!r}")
        self.path, self.fps, self.quality, self.preset = Path(path), float(fps), quality, preset
        check(not self.path.is_dir(), f"{self.path} is a directory; give a file name ending in .mp4")
        self._writer, self._tmp, self._size, self.frames_written = None, None, None, 0

    def __enter__(self) -> "VideoWriter":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.stem}-", suffix=".mp4", dir=self.path.parent)
        except OSError as exc:
            raise PlaygroundError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        os.close(fd)
        return self

    def write(self, frames: np.ndarray) -> None:
        """Append uint8 (T, H, W, 3) frames (or one (H, W, 3) frame)."""
        frames = _as_frames(frames)
        frames = frames[None] if frames.ndim == 3 else frames
        check(frames.ndim == 4, f"VideoWriter.write needs (T,H,W,3) frames, got shape {tuple(frames.shape)}")
        T, H, W = frames.shape[:3]
        if self._writer is None:
            import imageio_ffmpeg

            check(max(H, W) <= MAX_SIDE, f"frames of {W}x{H} exceed {MAX_SIDE} px")
            self._size = (H, W)
            self._writer = imageio_ffmpeg.write_frames(
                self._tmp,
                (W + W % 2, H + H % 2),
                fps=self.fps,
                codec="libx264",
                pix_fmt_out="yuv420p",
                quality=self.quality,
                macro_block_size=2,
                ffmpeg_log_level="error",
                output_params=["-movflags", "+faststart", "-preset", self.preset],
            )
            self._writer.send(None)  # start ffmpeg
        check(
            (H, W) == self._size,
            f"every frame of {self.path.name} must be {self._size[1]}x{self._size[0]}, got {W}x{H}",
        )
        if H % 2 or W % 2:
            frames = np.pad(frames, ((0, 0), (0, H % 2), (0, W % 2), (0, 0)), mode="edge")
        try:
            for frame in frames:
                self._writer.send(np.ascontiguousarray(frame))
        except (OSError, RuntimeError) as exc:
            raise PlaygroundError(f"could not write {self.path}: {_first_line(exc)}") from None
        self.frames_written += T

    def __exit__(self, exc_type, exc_value, tb) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
            if exc_type is None:
                check(self.frames_written > 0, f"{self.path.name}: no frames were written")
                os.chmod(self._tmp, 0o644)  # mkstemp makes it private; a finished video is an ordinary file
                os.replace(self._tmp, self.path)
        except (OSError, RuntimeError) as exc:
            raise PlaygroundError(f"could not write {self.path}: {_first_line(exc)}") from None
        finally:
            if self._tmp and os.path.exists(self._tmp):
                os.unlink(self._tmp)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def write_video(
    path: str | Path, frames: np.ndarray, fps: float = 8.0, quality: int = 7, preset: str = "medium"
) -> Path:
    """Write frames as a browser-playable MP4 (H.264, yuv420p, faststart), atomically (`VideoWriter`).

    Args:
        path: output file (.mp4); its folder is created if needed.
        frames: uint8 (T, H, W, 3), or (1, T, H, W, 3).
        fps: frames per second (> 0).
        quality: imageio-ffmpeg quality 0..10 (10 = best).
        preset: x264 speed preset (e.g. "ultrafast" encodes ~5x faster, files ~2x larger).

    Returns:
        The written path.
    """
    frames = _as_frames(frames)
    if frames.ndim == 5 and frames.shape[0] == 1:
        frames = frames[0]
    check(frames.ndim == 4, f"write_video needs (T,H,W,3) frames, got shape {tuple(frames.shape)}")
    with VideoWriter(path, fps, quality, preset) as out:
        out.write(frames)
    return Path(path)
