"""Command line: `python -m playground gaze VIDEO ...` and friends.

Every subcommand turns a `PlaygroundError` into one line on stderr and exit status 2; outputs
are written to a temporary folder first and moved into place only when everything succeeded, so
a failed run never leaves half-written files behind.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from . import knobs
from .errors import PlaygroundError, check, finite_number
from .staging import staging_folder

EXIT_BAD_INPUT = 2


def _knob(check_value: Callable, *args) -> Callable[[str], Any]:
    """argparse type from a `playground.knobs` check, so the CLI accepts exactly what the app and API accept."""
    def parse(text: str):
        try:
            return check_value(text, *args)
        except PlaygroundError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _float_in(low: float, high: float, name: str) -> Callable[[str], float]:
    """argparse type: a finite number in (low, high]."""
    def in_range(text: str, name: str) -> float:
        value = finite_number(text, name)
        check(low < value <= high, f"{name} must be in ({low:g}, {high:g}], got {value:g}")
        return value

    return _knob(in_range, name)


def _whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """argparse type: a whole number in [low, high] (1: positive, 0: zero allowed)."""
    return _knob(lambda text: knobs.whole_number(text, "the value", low, high))


def check_out_folder(text: str, flag: str = "--out") -> Path:
    """The output folder, checked before any work: a non-empty path that is (or can become) a writable folder.

    Creates the folder's parent if needed and probes it with a scratch file, so a bad --out fails
    in one line at once rather than after the gazing.
    """
    check(str(text).strip() != "", f"{flag} is empty; give an output folder")
    out = Path(text).expanduser()
    check(not out.exists() or out.is_dir(), f"{flag} {out} exists and is not a folder")
    probe_dir = out if out.is_dir() else out.parent
    try:
        probe_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(prefix=".write-test-", dir=probe_dir):
            pass
    except OSError as exc:
        raise PlaygroundError(f"cannot write to {flag} {out}: {exc.strerror or exc}") from None
    return out


def check_out_file(text: str, flag: str) -> Path:
    """An output file, checked before any work: not a folder, and its folder writable."""
    check(str(text).strip() != "", f"{flag} is empty; give an output file")
    path = Path(text).expanduser()
    check(not path.is_dir(), f"{flag} {path} is a folder; give a file name")
    check_out_folder(str(path.parent), flag)
    return path


_positive_int = _whole_number(1)
_nonnegative_int = _whole_number(0)


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """Frame-sampling options shared by the subcommands that read a video, and the read's size and limits.

    The limits' defaults are lower than the API's (`playground.video`): a gaze run keeps its frames
    several times over (rebuild, metrics, overlay videos: about 85 bytes a decoded pixel and 6 MB a
    frame, measured), and these keep one run within about 1.5 GB.
    """
    from .video import MAX_FRAME_PIXELS, READ_SIDE

    def side(text: str) -> int:
        value = _nonnegative_int(text)
        if 0 < value < 8:
            raise argparse.ArgumentTypeError(f"expected 0 (native size) or at least 8 px, got {value}")
        return value

    parser.add_argument("video", help="video file (mp4/webm/mov/avi/mkv) or a uint8 .npy array (T,H,W,3)")
    parser.add_argument("--frames", type=_positive_int, default=16, help="frames to sample (default 16)")
    parser.add_argument("--fps", type=_float_in(0, 1000, "--fps"), default=None,
                        help="sample at this frame rate instead of spreading --frames uniformly")
    parser.add_argument("--start", type=float, default=0.0, help="start time in seconds (default 0)")
    parser.add_argument("--max-side", type=side, default=READ_SIDE, metavar="PX",
                        help="decode frames straight to a long side of at most PX, aspect kept, never upscaled (the "
                             f"gazers resize to their 224 px input themselves; default {READ_SIDE}, as in the app "
                             "and the API; 0 = native size)")
    parser.add_argument("--max-frames", type=_nonnegative_int, default=128, metavar="N",
                        help="refuse to read more than N frames (default 128; 0 = no limit)")
    parser.add_argument("--max-pixels", type=_nonnegative_int, default=12_000_000, metavar="N",
                        help="refuse to decode more than N pixels in all, frames x height x width at the read size "
                             "(default 12000000, 92 frames of 480x270; 0 = no limit)")
    parser.add_argument("--max-frame-pixels", type=_nonnegative_int, default=MAX_FRAME_PIXELS, metavar="N",
                        help=f"refuse source frames of more than N pixels, width x height (default {MAX_FRAME_PIXELS}, "
                             "DCI 8K; 0 = no limit)")


def read_frames(args: argparse.Namespace) -> tuple[np.ndarray, float]:
    """The frames the user asked for, uint8 (T,H,W,3), read at --max-side within the limits, and the
    frame rate to play them at."""
    from .video import DecodeLimitError, read_clip

    try:
        frames, play_fps, _ = read_clip(args.video, num_frames=args.frames, fps=args.fps, start=args.start,
                                        max_side=args.max_side or None, max_frames=args.max_frames or None,
                                        max_pixels=args.max_pixels or None,
                                        max_frame_pixels=args.max_frame_pixels or None)
    except DecodeLimitError as exc:
        raise exc.remedy({"max_frame_pixels": "downscale the video first, or raise --max-frame-pixels (0 = no limit)",
                          "max_frames": "lower --frames, or raise --max-frames (0 = no limit)",
                          "max_pixels": "lower --frames or --max-side, or raise --max-pixels (0 = no limit)"}) from None
    return frames, play_fps


# ---- gaze ------------------------------------------------------------------------------------
def add_gaze_parser(subparsers) -> None:
    p = subparsers.add_parser("gaze", help="gaze a video, rebuild it, write overlay/reconstruction/metrics",
                              description="Gaze a video and rebuild it from the gazed patches.")
    add_video_arguments(p)
    p.add_argument("--gazer", default="greedy",
                   help="greedy | framediff | random | full | an AutoGaze hub id or folder (default greedy)")
    p.add_argument("--reconstructor", default="paint",
                   help="paint | a VideoMAE_AutoGaze checkpoint or hub id (default paint)")
    p.add_argument("--threshold", type=_knob(knobs.threshold, "--threshold"), default=knobs.THRESHOLD,
                   help="error threshold (task_loss_requirement): a frame stops once its loss is at or below it; "
                        f"0 = off (default {knobs.THRESHOLD:g}, as in the app)")
    p.add_argument("--max-gazing-ratio", type=_knob(knobs.gazing_ratio, "--max-gazing-ratio"),
                   default=knobs.MAX_GAZING_RATIO,
                   help="cap on slots per frame as a fraction of the 265 slots; 1 = no cap "
                        f"(default {knobs.MAX_GAZING_RATIO:g}, as in the app)")
    p.add_argument("--clip-len", type=_knob(knobs.clip_len, "--clip-len"), default=knobs.CLIP_LEN,
                   help="AutoGaze restarts its caches every N frames (it was trained on 16-frame clips; "
                        "default 16; 0 = carry them over all frames, as the reference's single call)")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: $PLAYGROUND_DEVICE, else auto)")
    p.add_argument("--out", default="gaze_out", help="output folder (default ./gaze_out)")
    p.set_defaults(func=run_gaze)


def gaze_with_progress(gazer, frames: np.ndarray, ratio, threshold, show: bool):
    """Gaze frame by frame with a progress bar on stderr (shown for long videos or a terminal)."""
    from tqdm.auto import tqdm

    from .gazers.base import gaze_frames

    with tqdm(total=len(frames), desc="gazing", unit="frame", disable=not show, file=sys.stderr) as bar:
        return gaze_frames(gazer, frames, ratio, threshold, on_frame=lambda done, total: bar.update(1))


def write_outputs(tmp: Path, frames: np.ndarray, fps: float, gaze, rec) -> None:
    """gaze.json, metrics.csv, overlay.mp4 and reconstruction.mp4 into `tmp` (numbers from `playground.report`)."""
    from .report import write_gaze_json, write_metrics_csv
    from .video import write_video
    from .viz import overlay_frames

    write_gaze_json(gaze, rec, tmp / "gaze.json", read_size=(frames.shape[2], frames.shape[1]))
    write_metrics_csv(gaze, rec, tmp / "metrics.csv")
    write_video(tmp / "overlay.mp4", overlay_frames(frames, gaze), fps=fps)
    write_video(tmp / "reconstruction.mp4", rec.frames[0].numpy(), fps=fps)


def publish(tmp: Path, out: Path) -> None:
    """Move finished outputs from `tmp` into `out` (created if needed)."""
    out.mkdir(parents=True, exist_ok=True)
    for item in tmp.iterdir():
        shutil.move(str(item), str(out / item.name))


def run_gaze(args: argparse.Namespace) -> int:
    from . import load_gazer, load_reconstructor
    from .gazers import applicable_options

    out = check_out_folder(args.out)
    started = time.perf_counter()
    frames, fps = read_frames(args)
    gazer = load_gazer(args.gazer, device=args.device, **applicable_options(args.gazer, clip_len=args.clip_len))
    reconstructor = load_reconstructor(args.reconstructor, device=args.device)
    gaze = gaze_with_progress(gazer, frames, args.max_gazing_ratio, knobs.threshold_or_off(args.threshold),
                              show=len(frames) > 16 or sys.stderr.isatty())
    rec = reconstructor.reconstruct(frames, gaze)
    out.parent.mkdir(parents=True, exist_ok=True)
    with staging_folder(out.parent) as tmp:  # also removes stale ones that killed runs left there
        write_outputs(tmp, frames, fps, gaze, rec)
        publish(tmp, out)
    print(summary_text(args, frames, gaze, rec, time.perf_counter() - started, out))
    return 0


def summary_text(args, frames: np.ndarray, gaze, rec, seconds: float, out: Path) -> str:
    from .report import psnr_text

    kept, T, S = gaze.num_gazed, gaze.num_frames, gaze.grid.num_slots
    lines = [
        f"video          {args.video}  ({T} frames read at {frames.shape[2]}x{frames.shape[1]} px; the gazer "
        f"resizes them to {gaze.grid.canvas}x{gaze.grid.canvas})",
        f"gazer          {gaze.gazer}  threshold={args.threshold}  max ratio={args.max_gazing_ratio}"
        + (f"  caches restart every {gaze.settings['clip_len']} frames" if gaze.settings.get("clip_len") else ""),
        f"slots kept     {kept} / {T * S}  ({100 * kept / (T * S):.1f}% of {S} per frame; "
        f"{kept / T:.1f} per frame)",
        "per scale      " + ", ".join(f"{s}px: {int(c)}" for s, c in
                                       zip(gaze.grid.scales, gaze.counts_per_scale()[0].sum(0))),
        f"reconstructor  {rec.reconstructor}  loss {float(rec.loss.mean()):.4f}  PSNR {psnr_text(rec.psnr)}  "
        f"SSIM {float(rec.ssim.mean()):.3f}",
        f"time           gaze {gaze.seconds.get('gaze', 0):.3f} s, reconstruct "
        f"{rec.seconds.get('reconstruct', 0):.3f} s, total {seconds:.2f} s",
        f"outputs        {out}/gaze.json overlay.mp4 reconstruction.mp4 metrics.csv",
    ]
    return "\n".join(lines)


# ---- entry point -----------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse that exits with status 2 and a one-line message (its default prints usage too)."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m playground", description="AutoGaze Playground command line")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_gaze_parser(subparsers)
    for register in _extra_parsers():
        register(subparsers)
    return parser


def _extra_parsers() -> list[Callable]:
    """Subcommands that live next to the models they drive: `ask` (MLLM) and `convert-videomae`."""
    from .mllm.cli import add_ask_parser
    from .reconstructors.videomae import add_convert_parser

    return [add_ask_parser, add_convert_parser]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PlaygroundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
