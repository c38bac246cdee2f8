"""What the subcommands share: argparse types built on `playground.knobs`, the output-path checks
made before any work, and the video-reading options with the read they drive.

Building a parser here imports no torch (`--help` stays fast, tests/test_consistency_cli.py): the
modules that read videos (`playground.video`, `playground.clips`) are imported by the functions that read.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .. import knobs
from ..errors import PlaygroundError, check
from ..knobs import MAX_FRAME_PIXELS, READ_SIDE

if TYPE_CHECKING:
    import numpy as np

    from ..video import FrameStream, VideoInfo


def knob(check_value: Callable, *args) -> Callable[[str], Any]:
    """argparse type from a `playground.knobs` check, so the CLI accepts exactly what the app and API accept."""

    def parse(text: str):
        try:
            return check_value(text, *args)
        except PlaygroundError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def whole_number_arg(low: int, high: int | None = None) -> Callable[[str], int]:
    """argparse type: a whole number in [low, high] (1: positive, 0: zero allowed)."""
    return knob(lambda text: knobs.whole_number(text, "the value", low, high))


positive_int = whole_number_arg(1)
nonnegative_int = whole_number_arg(0)


def check_out_folder(text: str, flag: str = "--out") -> Path:
    """The output folder, checked before any work: a non-empty path that is (or can become) a writable folder.

    Creates nothing (a failed run leaves nothing behind): it probes the folder, or the nearest folder
    above it that exists, with a scratch file, so a bad --out fails in one line at once rather than
    after the work. The writers create the folders they write into.
    """
    check(str(text).strip() != "", f"{flag} is empty; give an output folder")
    out = Path(text).expanduser()
    check(not out.exists() or out.is_dir(), f"{flag} {out} exists and is not a folder")
    probe_dir = out.absolute()
    while not probe_dir.exists():
        probe_dir = probe_dir.parent
    check(probe_dir.is_dir(), f"cannot write to {flag} {out}: {probe_dir} is a file, not a folder")
    try:
        with tempfile.NamedTemporaryFile(prefix=".write-test-", dir=probe_dir):
            pass
    except OSError as exc:
        raise PlaygroundError(f"cannot write to {flag} {out}: {exc.strerror or exc}") from None
    return out


def note_links(links: list[Path]) -> None:
    """Say on stderr how many links to videos a folder search left out, and why (`clips.links_note`)."""
    if links:
        from ..clips import links_note

        print(f"note: {links_note(links)}", file=sys.stderr)


def find_videos_noted(sources: list[str]) -> list[Path]:
    """`clips.find_videos`, saying on stderr which links it left out."""
    from ..clips import find_videos

    links: list[Path] = []
    videos = find_videos(sources, links)
    note_links(links)
    return videos


def check_out_file(text: str, flag: str) -> Path:
    """An output file, checked before any work: not a folder, and its folder writable."""
    check(str(text).strip() != "", f"{flag} is empty; give an output file")
    path = Path(text).expanduser()
    check(not path.is_dir(), f"{flag} {path} is a folder; give a file name")
    check_out_folder(str(path.parent), flag)
    return path


def read_side(text: str) -> int:
    """argparse type for --max-side: 0 (native size) or at least 8 px."""
    value = nonnegative_int(text)
    if 0 < value < 8:
        raise argparse.ArgumentTypeError(f"expected 0 (native size) or at least 8 px, got {value}")
    return value


def frame_count_or_all(text: str) -> int | str:
    """argparse type for --frames where `all` is allowed: a positive whole number, or "all"."""
    return "all" if str(text).strip().lower() == "all" else positive_int(text)


def add_video_arguments(
    parser: argparse.ArgumentParser, frames: int = knobs.NUM_FRAMES, streamed: bool = False
) -> None:
    """Frame-sampling options shared by the subcommands that read a video, and the read's size and limits.

    `frames` is the subcommand's default frame count. `streamed`: the subcommand can also read the
    video chunk by chunk (`--frames all`, `--tile`), where the limits below do not apply and
    `--max-side` defaults to the native size when tiling. The limits' defaults are lower than the API's
    (`playground.video`): a gaze run keeps its frames several times over (rebuild, metrics, overlay
    videos: about 85 bytes a decoded pixel and 6 MB a frame, measured), and these keep one run
    within about 1.5 GB.
    """
    parser.add_argument("video", help="video file (mp4/webm/mov/avi/mkv) or a uint8 .npy array (T,H,W,3)")
    if streamed:
        parser.add_argument(
            "--frames",
            type=frame_count_or_all,
            default=frames,
            metavar="N|all",
            help=f"frames to sample, spread over the video (default {frames}); all = every frame "
            "(or every 1/fps s), read and gazed chunk by chunk",
        )
    else:
        parser.add_argument("--frames", type=positive_int, default=frames, help=f"frames to sample (default {frames})")
    parser.add_argument(
        "--fps",
        type=knob(knobs.fps, "--fps", True),
        default=knobs.FPS,
        help="sample at this frame rate instead of spreading --frames uniformly; 0 = spread the "
        f"frames uniformly, as the app's box (default {knobs.FPS:g})",
    )
    parser.add_argument("--start", type=float, default=0.0, help="start time in seconds (default 0)")
    tiled = "; with --tile, the native size" if streamed else ""
    parser.add_argument(
        "--max-side",
        type=read_side,
        default=None if streamed else READ_SIDE,
        metavar="PX",
        help="decode frames straight to a long side of at most PX, aspect kept, never upscaled (the "
        f"gazers resize to their 224 px input themselves; default {READ_SIDE}, as in the app "
        f"and the API{tiled}; 0 = native size)",
    )
    chunked = " (not when read chunk by chunk: --frames all or --tile)" if streamed else ""
    parser.add_argument(
        "--max-frames",
        type=nonnegative_int,
        default=128,
        metavar="N",
        help=f"refuse to read more than N frames{chunked} (default 128; 0 = no limit)",
    )
    parser.add_argument(
        "--max-pixels",
        type=nonnegative_int,
        default=12_000_000,
        metavar="N",
        help=f"refuse to decode more than N pixels in all, frames x height x width at the read size"
        f"{chunked} (default 12000000, 92 frames of 480x270; 0 = no limit)",
    )
    parser.add_argument(
        "--max-frame-pixels",
        type=nonnegative_int,
        default=MAX_FRAME_PIXELS,
        metavar="N",
        help=f"refuse source frames of more than N pixels, width x height (default {MAX_FRAME_PIXELS}, "
        "DCI 8K; 0 = no limit)",
    )


def read_frames(args: argparse.Namespace) -> tuple[np.ndarray, float]:
    """The frames the user asked for, uint8 (T,H,W,3), read at --max-side within the limits, and the
    frame rate to play them at."""
    return read_frames_and_header(args)[:2]


def read_side_of(args: argparse.Namespace) -> int | None:
    """The long side the video is read at: --max-side, else READ_SIDE (None: the native size, as tiles read)."""
    if args.max_side is not None:
        return args.max_side or None
    return None if getattr(args, "tile", None) is not None else READ_SIDE


def read_frames_and_header(args: argparse.Namespace) -> tuple[np.ndarray, float, VideoInfo | None]:
    """`read_frames`, and the video's header (None for a .npy clip)."""
    from ..video import DecodeLimitError, read_clip

    max_side = read_side_of(args)
    try:
        frames, play_fps, info = read_clip(
            args.video,
            num_frames=args.frames,
            fps=args.fps or None,
            start=args.start,
            max_side=max_side,
            max_frames=args.max_frames or None,
            max_pixels=args.max_pixels or None,
            max_frame_pixels=args.max_frame_pixels or None,
        )
    except DecodeLimitError as exc:
        raise exc.remedy(
            {
                "max_frame_pixels": "downscale the video first, or raise --max-frame-pixels (0 = no limit)",
                "max_frames": "lower --frames, or raise --max-frames (0 = no limit)",
                "max_pixels": "lower --frames or --max-side, or raise --max-pixels (0 = no limit)",
            }
        ) from None
    return frames, play_fps, info


def stream_frames(args: argparse.Namespace, tiled: bool) -> FrameStream:
    """The frames the user asked for, read chunk by chunk (`--frames all` or `--tile`): at the native size
    when tiling unless --max-side says otherwise, else at the read size of `read_frames`."""
    from ..video import DecodeLimitError, stream_video

    max_side = read_side_of(args)
    every = args.frames == "all"
    try:
        return stream_video(
            args.video,
            chunk_len=knobs.CLIP_LEN,
            num_frames=None if every else args.frames,
            fps=args.fps or None,
            start=args.start,
            max_side=max_side,
            sampling="first" if every else "uniform",
            max_frame_pixels=args.max_frame_pixels or None,
        )
    except DecodeLimitError as exc:
        raise exc.remedy(
            {"max_frame_pixels": "downscale the video first, or raise --max-frame-pixels (0 = no limit)"}
        ) from None


def add_gazing_ratio(p: argparse.ArgumentParser, of: str = "the 265 slots") -> None:
    """`--gazing-ratio` as the app's slider takes it (`gaze`, `ask`): the same check and default; `of`
    names the grid the fraction is of (in the help)."""
    p.add_argument(
        "--gazing-ratio",
        "--max-gazing-ratio",
        dest="gazing_ratio",
        type=knob(knobs.gazing_ratio, "--gazing-ratio"),
        default=knobs.GAZING_RATIO,
        help=f"cap on slots per frame as a fraction of {of}; 1 = no cap (default {knobs.GAZING_RATIO:g}, as in the app)",
    )


def add_threshold(p: argparse.ArgumentParser) -> None:
    """`--threshold` as the app's box takes it (`gaze`, `ask`): the same check and default."""
    p.add_argument(
        "--threshold",
        type=knob(knobs.threshold, "--threshold"),
        default=knobs.THRESHOLD,
        help="error threshold (task_loss_requirement): a frame stops once its loss is at or below it; "
        f"0 = off (default {knobs.THRESHOLD:g}, as in the app)",
    )
