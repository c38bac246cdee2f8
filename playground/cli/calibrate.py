"""`python -m playground calibrate GAZER --reconstructor R --videos ... --out CAL`: what a learned gazer's
threshold means for a reconstructor, measured on the user's clips (`playground.calibration`).

Writes a `calibration.json` that `load_gazer` picks up when it lies beside the checkpoint's weights
(`--out CHECKPOINT_FOLDER/`) or when it is named (`load_gazer(..., calibration=PATH)`).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from ..calibration import CALIBRATION_FILE
from ..errors import check
from ..knobs import CLIP_CHOICES, CLIP_LEN, SIZE, threshold
from .args import check_out_file, knob, whole_number_arg


def add_parser(subparsers) -> None:
    """Register the `calibrate` subcommand on the main CLI's subparsers."""
    p = subparsers.add_parser(
        "calibrate",
        help="map a learned gazer's threshold to a reconstructor's measured loss",
        description="Sweep thresholds on clips of your videos, gaze with the gazer's predicted "
        "stop at each, rebuild with the reconstructor and measure its loss; write "
        "the monotone map (calibration.json) that load_gazer then applies, so "
        "that a threshold t gives a measured loss near t for this pair.",
    )
    p.add_argument("gazer", help="an AutoGaze checkpoint folder, a hub id or a shipped gazer's name")
    p.add_argument("--videos", nargs="+", required=True, help="video files or folders")
    p.add_argument("--reconstructor", default="paint", help="paint | a VideoMAE checkpoint (default paint)")
    p.add_argument(
        "--out",
        required=True,
        help=f"the calibration file to write; a folder (existing, or ending in /) gets {CALIBRATION_FILE} "
        "(the checkpoint's folder: load_gazer picks it up)",
    )
    p.add_argument(
        "--clips",
        choices=CLIP_CHOICES + ("spread",),
        default="all",
        help="clips of each video: first, all (consecutive frames, as training reads them) or spread "
        "(--clip-len frames spread over the whole video at 480 px, as the app and the gaze "
        "command read it by default); default all",
    )
    p.add_argument(
        "--max-clips",
        type=whole_number_arg(1, 100000),
        default=None,
        help="measure at most this many clips, spread over the list (default: every clip)",
    )
    p.add_argument(
        "--clip-len", type=whole_number_arg(1, 1024), default=CLIP_LEN, help=f"frames per clip (default {CLIP_LEN})"
    )
    p.add_argument("--size", type=whole_number_arg(16, 4096), default=SIZE, help=f"frame side in px (default {SIZE})")
    p.add_argument(
        "--thresholds",
        nargs="+",
        type=knob(threshold, "--thresholds"),
        default=None,
        help="thresholds to sweep (default: quantiles of the gazer's own predicted losses)",
    )
    p.add_argument(
        "--points",
        type=whole_number_arg(2, 256),
        default=16,
        help="without --thresholds: the most thresholds swept (default 16)",
    )
    p.add_argument("--batch-size", type=whole_number_arg(1, 256), default=4, help="clips gazed together (default 4)")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: $PLAYGROUND_DEVICE, else auto)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def out_path(text: str) -> Path:
    """The file to write: `text`, or `text/calibration.json` for a folder; checked before any work."""
    path = Path(text).expanduser()
    if text.endswith(("/", "\\")) or path.is_dir():
        path = path / CALIBRATION_FILE
    return check_out_file(str(path), "--out")


def run(args: argparse.Namespace) -> int:
    """Run `calibrate`; returns the exit status."""
    from tqdm.auto import tqdm

    from .. import load_gazer, load_reconstructor
    from ..calibration import calibrate, write_calibration
    from ..clips import find_videos, list_clips, read_clip_frames
    from ..gazers import MEASURING_GAZERS, TRAINING_FREE_GAZERS
    from ..video import read_video, resize_frames

    out = out_path(args.out)
    key = args.gazer.strip().lower()
    check(
        key not in TRAINING_FREE_GAZERS and key not in MEASURING_GAZERS,
        f"{args.gazer} is not a learned gazer: its threshold is what it measures or ignores, nothing to calibrate",
    )
    found, errors = list_clips(
        find_videos(args.videos), "first" if args.clips == "spread" else args.clips, args.clip_len
    )
    for e in errors:
        print(f"skipped {e['video']}: {e['error']}", file=sys.stderr)
    check(len(found) > 0, "no clip to calibrate on")
    if args.max_clips is not None and len(found) > args.max_clips:
        step = len(found) / args.max_clips
        found = [found[int(i * step)] for i in range(args.max_clips)]
    gazer = load_gazer(args.gazer, device=args.device, calibration=None)
    reconstructor = load_reconstructor(args.reconstructor, device=args.device)
    if args.clips == "spread":  # the default read of the app and the gaze command, squashed to the canvas
        clips = [resize_frames(read_video(c.path, num_frames=args.clip_len), args.size) for c in found]
        found = [replace(c, key=f"{c.key}@{args.clip_len} spread") for c in found]
    else:
        clips = [read_clip_frames(c, args.clip_len, args.size).frames for c in found]
    with tqdm(total=1, desc="calibrating", unit="batch", disable=args.quiet, file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        cal = calibrate(
            gazer,
            reconstructor,
            clips,
            names=[c.key for c in found],
            thresholds=args.thresholds,
            batch_size=args.batch_size,
            points=args.points,
            progress=progress,
        )
    cal.gazer = args.gazer
    write_calibration(cal, out)
    cal.path = str(out)
    print(f"{cal.gazer} with {cal.reconstructor}: {len(clips)} clips, {cal.frames} frames")
    print(cal.table())
    print(
        "wanted loss -> threshold handed to the head: "
        + ", ".join(f"{w:g} -> {cal.threshold_for(w):.4f}" for w in (0.1, 0.2, 0.3))
    )
    print(f"wrote {out}")
    return 0
