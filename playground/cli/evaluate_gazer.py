"""`python -m playground evaluate-gazer CKPT_OR_NAME --videos ...`: the gazer against random, framediff
and greedy at the same budget, and its predicted against its measured loss at a threshold
(`playground.training.evaluate_gazer`)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from .. import knobs
from ..errors import check
from ..knobs import CLIP_CHOICES, CLIP_LEN, EVAL_RATIO, EVAL_THRESHOLD, SIZE
from .args import check_out_folder, find_videos_noted, knob, whole_number_arg

RUNS = "runs"  # the folder (in the current one) that outputs go to unless --out says otherwise


def add_parser(subparsers) -> None:
    """Register the `evaluate-gazer` subcommand on the main CLI's subparsers."""
    p = subparsers.add_parser(
        "evaluate-gazer",
        description=f"Score a gazer on {CLIP_LEN}-frame clips against random, framediff and greedy at "
        "the same gazing ratio, and (AutoGaze) its predicted against its measured "
        "loss at a threshold. Prints a table; saves evaluation.json/.csv/.html.",
    )
    p.add_argument("gazer", help="an AutoGaze checkpoint folder, a run's checkpoint, a hub id or a gazer name")
    p.add_argument("--videos", nargs="+", required=True, help="video files or folders (clips it was not trained on)")
    p.add_argument(
        "--ratio",
        type=knob(knobs.gazing_ratio, "--ratio"),
        default=EVAL_RATIO,
        help=f"the equal budget: gazing ratio with the threshold off (default {EVAL_RATIO:g})",
    )
    p.add_argument(
        "--threshold",
        type=knob(knobs.threshold, "--threshold"),
        default=EVAL_THRESHOLD,
        help=f"the calibration threshold; 0 = skip that part (default {EVAL_THRESHOLD:g})",
    )
    p.add_argument("--reconstructor", default="paint", help="paint | a VideoMAE checkpoint (default paint)")
    p.add_argument("--clips", choices=CLIP_CHOICES, default="first", help="clips of each video (default first)")
    p.add_argument(
        "--clip-len", type=whole_number_arg(1, 1024), default=CLIP_LEN, help=f"frames per clip (default {CLIP_LEN})"
    )
    p.add_argument("--size", type=whole_number_arg(16, 4096), default=SIZE, help=f"frame side in px (default {SIZE})")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: $PLAYGROUND_DEVICE, else auto)")
    p.add_argument(
        "--out",
        default=None,
        help=f"output folder (default {RUNS}/evaluate-gazer/NAME, NAME from the gazer: the checkpoint's "
        "last two path parts, or its name; printed before any work)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def default_out(gazer: str) -> Path:
    """Where an evaluation goes without --out: RUNS/evaluate-gazer/NAME, NAME from the gazer's path or name."""
    path = Path(gazer).expanduser()
    parts = [p for p in (path.parts[-2:] if path.exists() else [gazer]) if p not in ("/", ".", "..")]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(parts)).strip("-.") or "gazer"
    return Path(RUNS) / "evaluate-gazer" / name


def run(args: argparse.Namespace) -> int:
    """Run `evaluate-gazer`; returns the exit status."""
    from tqdm.auto import tqdm

    from .. import load_gazer, load_reconstructor
    from ..clips import list_clips
    from ..training.evaluate_gazer import evaluate_gazer, summary, table, write_evaluation

    out = check_out_folder(args.out or str(default_out(args.gazer)))
    print(f"writing the evaluation to {out}", file=sys.stderr)
    clips, errors = list_clips(find_videos_noted(args.videos), args.clips, args.clip_len)
    for e in errors:
        print(f"skipped {e['video']}: {e['error']}", file=sys.stderr)
    check(len(clips) > 0, "no clip to evaluate on")
    gazer = load_gazer(args.gazer, device=args.device)
    reconstructor = load_reconstructor(args.reconstructor, device=args.device)
    threshold = knobs.threshold_or_off(args.threshold)
    name = "gazer" if args.gazer in ("random", "framediff", "greedy") else args.gazer.rstrip("/").split("/")[-1]
    with tqdm(total=len(clips), desc="evaluating", unit="clip", disable=args.quiet, file=sys.stderr) as bar:
        scores = evaluate_gazer(
            gazer,
            clips,
            reconstructor,
            args.ratio,
            threshold,
            name,
            args.size,
            args.clip_len,
            progress=lambda done, total: bar.update(done - bar.n),
        )
    settings = {
        "gazer": args.gazer,
        "ratio": args.ratio,
        "threshold": threshold,
        "reconstructor": args.reconstructor,
        "clips": args.clips,
        "clip_len": args.clip_len,
        "size": args.size,
    }
    write_evaluation(scores, out, settings, name)
    print(table(scores, name))
    print(json.dumps(summary(scores), indent=1))
    print(f"wrote {out / 'evaluation.json'}, evaluation.csv and evaluation.html")
    return 0
