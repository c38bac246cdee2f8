"""`python -m playground gaze-dataset INPUTS... --out DIR`: gaze every clip of many videos into
Parquet shards (resumable), locally or on Ray (`playground.dataset`; docs/datasets.md).

The parser imports no torch: `run` imports the dataset modules."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .. import knobs
from ..knobs import BATCH_SIZE, LABEL_GAZING_RATIO, LABEL_THRESHOLD, READ_SIDE, SHARD_CLIPS, SIZE
from .args import check_out_folder, knob, note_links, read_side, whole_number_arg
from .labels import add_clip_arguments

if TYPE_CHECKING:
    from ..dataset import ClipSettings

SHOWN_ERRORS = 10  # errors printed on stderr; the rest are in errors.jsonl


def add_parser(subparsers) -> None:
    """Register the `gaze-dataset` subcommand on the main CLI's subparsers."""
    p = subparsers.add_parser(
        "gaze-dataset",
        description="Gaze each video's clips (tile by tile with --tile) and write one Parquet row per clip and "
        "tile into --out/shards, with manifest.json and errors.jsonl. Clips already in --out are "
        "skipped, so the same command resumes an interrupted run.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUTS",
        help="video files, folders (searched recursively), globs, or .txt lists of paths (one a line)",
    )
    p.add_argument("--out", required=True, help="dataset folder (created if needed)")
    p.add_argument(
        "--gazer",
        default="greedy",
        help="greedy | framediff | random | full | oracle | an AutoGaze hub id or folder (default greedy)",
    )
    p.add_argument(
        "--reconstructor",
        default=None,
        help="also rebuild each tile and record its per-frame loss (paint | a VideoMAE checkpoint; "
        "the oracle gazer measures with it too); default: none",
    )
    p.add_argument(
        "--ratio",
        type=knob(knobs.gazing_ratio, "--ratio"),
        default=None,
        help=f"cap on gazes per frame and tile as a fraction of the 265 slots (default {knobs.GAZING_RATIO:g}; "
        f"{LABEL_GAZING_RATIO:g} with --labels, as the labels command)",
    )
    p.add_argument(
        "--threshold",
        type=knob(knobs.threshold, "--threshold"),
        default=None,
        help=f"a frame stops once its loss is at or below this; 0 = off (default {knobs.THRESHOLD:g}; "
        f"{LABEL_THRESHOLD:g} with --labels)",
    )
    p.add_argument(
        "--tile",
        type=whole_number_arg(16, 8192),
        default=None,
        metavar="PX",
        help="cut each frame (read at the native size unless --max-side) into square tiles of PX read "
        "pixels, one row each (default: the whole frame is one tile, squashed by the gazer)",
    )
    add_clip_arguments(p)
    p.add_argument(
        "--size",
        type=whole_number_arg(16, 4096),
        default=None,
        metavar="PX",
        help=f"squash frames to PX square before gazing (default: off; {SIZE} with --labels, as training reads clips)",
    )
    p.add_argument(
        "--max-side",
        type=read_side,
        default=None,
        metavar="PX",
        help=f"decode frames to a long side of at most PX; 0 = native size (default {READ_SIDE}, as the "
        "app, `gaze` and the API read whole frames; with --tile, the native size, as they tile)",
    )
    p.add_argument(
        "--labels",
        action="store_true",
        help="also write the official gazing_labels.json in --out (needs a loss-measuring gazer: greedy "
        "or oracle; whole frames)",
    )
    p.add_argument(
        "--batch-size",
        type=whole_number_arg(1, 4096),
        default=BATCH_SIZE,
        help=f"tile clips gazed together (default {BATCH_SIZE})",
    )
    p.add_argument(
        "--workers",
        type=whole_number_arg(1, 1024),
        default=1,
        help="processes (or Ray gazer actors) gazing at once; 1 = in this process (default 1)",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run on Ray Data: a local Ray, or the cluster at ADDRESS (auto, ray://host:10001); put it "
        "after INPUTS or write --ray=ADDRESS (needs: pip install .[ray])",
    )
    p.add_argument(
        "--shard-clips",
        type=whole_number_arg(1),
        default=SHARD_CLIPS,
        metavar="N",
        help=f"clips per Parquet shard (default {SHARD_CLIPS}); Ctrl-C writes what was gazed, a killed "
        "run loses at most a shard's work",
    )
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: $PLAYGROUND_DEVICE, else auto)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def settings_of(args: argparse.Namespace) -> ClipSettings:
    """The rows' settings from the flags (labels mode brings the labels command's defaults)."""
    from ..dataset import ClipSettings

    ratio = args.ratio if args.ratio is not None else (LABEL_GAZING_RATIO if args.labels else knobs.GAZING_RATIO)
    threshold = args.threshold if args.threshold is not None else (LABEL_THRESHOLD if args.labels else knobs.THRESHOLD)
    size = args.size if args.size is not None else (SIZE if args.labels else None)
    # The app's read: READ_SIDE for whole frames (and squashed ones), the native size with tiles.
    max_side = args.max_side if args.max_side is not None else (READ_SIDE if size or args.tile is None else 0)
    return ClipSettings(
        gazer=args.gazer,
        gazing_ratio=ratio,
        threshold=knobs.threshold_or_off(threshold),
        clip_len=args.clip_len,
        tile=args.tile,
        size=size,
        max_side=max_side or None,
        batch_size=args.batch_size,
        reconstructor=args.reconstructor,
        measured=args.labels,
        gazer_reconstructor=args.reconstructor or "paint",
        device=args.device,
    )


def run(args: argparse.Namespace) -> int:
    """Run the `gaze-dataset` subcommand; returns the exit status."""
    from tqdm.auto import tqdm

    from ..dataset import find_inputs, gaze_dataset
    from ..dataset.runner import ERRORS
    from ..staging import interrupt_on_signals

    out = check_out_folder(args.out)
    settings = settings_of(args)
    links: list = []
    videos = find_inputs(args.inputs, links)
    note_links(links)
    # SIGTERM stops the run as Ctrl-C does, so the clips gazed so far are written as a last shard.
    with (
        tqdm(total=None, desc="gazing", unit="clip", disable=args.quiet, file=sys.stderr) as bar,
        interrupt_on_signals(),
    ):

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        summary = gaze_dataset(
            videos, out, settings, args.clips, args.workers, args.ray, args.labels, args.shard_clips, progress
        )
    for e in summary.errors[:SHOWN_ERRORS]:
        where = e["video_path"] if e["clip_start"] is None else f"{e['video_path']} (clip at frame {e['clip_start']})"
        print(f"skipped {where}: {e['error']}", file=sys.stderr)
    if len(summary.errors) > SHOWN_ERRORS:
        print(f"... and {len(summary.errors) - SHOWN_ERRORS} more", file=sys.stderr)
    labels = f"; labels in {summary.labels}" if summary.labels else ""
    errors = f" (see {out / ERRORS})" if summary.errors else ""
    print(
        f"wrote {out}: {summary.gazed} clips gazed ({summary.rows} rows, {summary.shards} shards), "
        f"{summary.skipped} already done, {len(summary.errors)} skipped{errors}; {summary.total_rows} rows in all"
        f"{labels}; {summary.seconds:.1f} s"
    )
    return 0
