"""`python -m playground labels VIDEOS... --out gazing_labels.json`: gaze every training clip with a
loss-measuring gazer and write the official labels file (resumable; `playground.training.make_labels`)."""

from __future__ import annotations

import argparse
import sys
import time

from .. import knobs
from ..errors import PlaygroundError
from ..jsonio import write_json
from ..knobs import CLIP_CHOICES, CLIP_LEN, LABEL_GAZING_RATIO, LABEL_THRESHOLD, SIZE
from .args import check_out_file, find_videos_noted, knob, whole_number_arg


def add_parser(subparsers) -> None:
    """Register the `labels` subcommand on the main CLI's subparsers."""
    p = subparsers.add_parser(
        "labels",
        description=f"Gaze every {CLIP_LEN}-frame clip of the videos with a gazer that measures its loss after each gaze "
        "(greedy with paint on a CPU, oracle with a VideoMAE checkpoint on a GPU) and write the "
        "official labels format. Keys already in --out are skipped; the file is rewritten atomically.",
    )
    p.add_argument("videos", nargs="+", help="video files or folders of videos (searched recursively)")
    p.add_argument("--out", default="gazing_labels.json", help="labels file (default ./gazing_labels.json)")
    p.add_argument("--gazer", default="greedy", help="greedy | oracle (default greedy)")
    p.add_argument(
        "--reconstructor",
        default="paint",
        help="whose loss the labels hold: paint (greedy) or a VideoMAE checkpoint (oracle); default paint",
    )
    add_clip_arguments(p)
    p.add_argument("--size", type=whole_number_arg(16, 4096), default=SIZE, help=f"frame side in px (default {SIZE})")
    p.add_argument(
        "--gazing-ratio",
        type=knob(knobs.gazing_ratio, "--gazing-ratio"),
        default=LABEL_GAZING_RATIO,
        help=f"most gazes per frame as a fraction of 265 (default {LABEL_GAZING_RATIO:g})",
    )
    p.add_argument(
        "--threshold",
        type=knob(knobs.threshold, "--threshold"),
        default=LABEL_THRESHOLD,
        help=f"a frame's labels stop once its loss is at or below this; 0 = off (default {LABEL_THRESHOLD:g})",
    )
    p.add_argument("--workers", type=whole_number_arg(1, 256), default=1, help="processes gazing at once (default 1)")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: $PLAYGROUND_DEVICE, else auto)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def add_clip_arguments(p: argparse.ArgumentParser) -> None:
    """--clips and --clip-len (`clips.list_clips`), as `labels` and `gaze-dataset` take them."""
    p.add_argument(
        "--clips",
        choices=CLIP_CHOICES,
        default="first",
        help="first: each video's first clip; all: every whole clip, back to back (default first)",
    )
    p.add_argument(
        "--clip-len",
        type=whole_number_arg(1, 1024),
        default=CLIP_LEN,
        help=f"frames per clip (default {CLIP_LEN}, what AutoGaze is trained on)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the `labels` subcommand; returns the exit status."""
    from tqdm.auto import tqdm

    from ..clips import list_clips
    from ..training.make_labels import LabelSettings, summarize_labels, write_labels

    start = time.perf_counter()
    out = check_out_file(args.out, "--out")
    settings = LabelSettings(
        args.gazer,
        args.reconstructor,
        args.gazing_ratio,
        knobs.threshold_or_off(args.threshold),
        args.size,
        args.clip_len,
        args.device,
    )
    clips, errors = list_clips(find_videos_noted(args.videos), args.clips, args.clip_len)
    with tqdm(total=len(clips), desc="labelling", unit="clip", disable=args.quiet, file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        labels, clip_errors = write_labels(clips, out, settings, workers=args.workers, progress=progress)
    errors += clip_errors
    errors_file = out.with_name(out.stem + ".errors.json")
    if errors:
        write_json(errors, errors_file, indent=1)
        for e in errors:
            print(f"skipped {e.get('clip') or e['video']}: {e['error']}", file=sys.stderr)
    else:
        errors_file.unlink(missing_ok=True)
    stats = summarize_labels(labels)
    print(
        f"wrote {out}: {stats['clips']} clips, {stats['gazes_per_frame']:.1f} gazes a frame, final loss "
        f"{stats['final_loss']:.3f}; {len(errors)} skipped{f' (see {errors_file})' if errors else ''}; "
        f"{time.perf_counter() - start:.1f} s"
    )
    if not labels:
        raise PlaygroundError(f"no clip could be labelled: {errors[0]['error'] if errors else 'no clips'}")
    return 0
