"""`python -m playground train ntp|grpo ...`: train a gazer into a run folder (`playground.training.trainer`).

One subcommand per method in `training.methods.METHODS`: the common flags are here, each method's
own flags are its `add_arguments`. NTP learns from a labels file (`python -m playground labels`);
GRPO improves a trained gazer with a reconstruction reward. `--resume RUN` continues a run exactly. Several processes: launch the same
command with `torchrun --nproc_per_node N -m playground train ...` (DDP; rank 0 writes).
The parser imports no torch (`train --help` stays under a second): `run` imports the trainer.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import TYPE_CHECKING

from ..errors import check
from ..knobs import SIZE
from ..training.methods import METHODS, Method
from .args import check_out_folder, nonnegative_int, positive_int, whole_number_arg

if TYPE_CHECKING:
    from ..training.trainer import TrainSettings

DEFAULT_STEPS = 100


def add_parser(subparsers) -> None:
    """Register `train NAME` for each method of `METHODS` (ntp, grpo) on the main CLI's subparsers."""
    p = subparsers.add_parser(
        "train",
        description="Train an AutoGaze gazer into a run folder (checkpoints in the published "
        "layout, metrics.jsonl, curves.html, a run card).",
    )
    methods = p.add_subparsers(dest="method", required=True, parser_class=type(p))
    for method in METHODS.values():
        sub = methods.add_parser(method.name, help=method.help)
        method.add_arguments(sub)
        _common(sub, method)


def _common(p: argparse.ArgumentParser, method: Method) -> None:
    batch, optimizer, warmup = method.batch_size, method.optimizer, method.warmup
    p.add_argument("--videos", nargs="+", default=[], help="video files or folders (searched recursively)")
    p.add_argument("--out", default=None, help="the run folder (required unless --resume)")
    p.add_argument("--resume", default=None, metavar="RUN", help="continue RUN exactly from its last checkpoint")
    p.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help=f"optimiser steps (default {DEFAULT_STEPS}; with --resume: the run's, or raise it)",
    )
    p.add_argument(
        "--batch-size", type=positive_int, default=batch, help=f"clips per micro-batch and process (default {batch})"
    )
    p.add_argument(
        "--grad-accum",
        type=positive_int,
        default=1,
        help="micro-batches per step (default 1; under DDP gradients are all-reduced once a step)",
    )
    p.add_argument(
        "--grad-clip",
        type=float,
        default=None,
        metavar="MAX_NORM",
        help="clip the gradient's global norm to MAX_NORM before each step (default: off, as the reference)",
    )
    p.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (default 5e-4)")
    p.add_argument("--min-lr", type=float, default=1e-5, help="the linear decay ends here (default 1e-5)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default=optimizer, help=f"(default {optimizer})")
    p.add_argument("--warmup", type=float, default=warmup, help=f"fraction of steps warming up (default {warmup:g})")
    p.add_argument("--size", type=whole_number_arg(16, 4096), default=SIZE, help=f"frame side in px (default {SIZE})")
    p.add_argument(
        "--save-every", type=nonnegative_int, default=0, help="keep a checkpoint every N steps (0: the last)"
    )
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the fresh weights, order and draws")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: $PLAYGROUND_DEVICE, else auto)")
    p.add_argument("--no-bf16", action="store_true", help="float32 on CUDA too (bf16 autocast is the default there)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run `train ntp|grpo`; returns the exit status."""
    from ..training.run_folder import checkpoints
    from ..training.trainer import train_gazer

    command = "python -m playground " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    check(bool(args.out or args.resume), "give --out RUN (the run folder) or --resume RUN")
    out = check_out_folder(args.resume or args.out, "--resume" if args.resume else "--out")
    try:
        if args.resume:
            knobs = {"steps": args.steps} if args.steps is not None else {}
            last = train_gazer(resume=out, progress=not args.quiet, device=args.device, command=command, **knobs)
        else:
            last = train_gazer(_settings(args, out, command))
    except KeyboardInterrupt:
        found = checkpoints(out)
        where = f"the last complete checkpoint is {found[-1][1]}" if found else "no checkpoint was written yet"
        print(f"interrupted: {where}; continue with --resume {out}", file=sys.stderr)
        return 130
    print(
        f"wrote {last} (load it with load_gazer({str(last)!r})); metrics in {out / 'metrics.jsonl'}, "
        f"curves in {out / 'curves.html'}"
    )
    return 0


def _settings(args: argparse.Namespace, out, command: str) -> TrainSettings:
    from ..training.trainer import TrainSettings

    check(len(args.videos) > 0, "give --videos (files or folders)")
    return TrainSettings(
        method=args.method,
        videos=args.videos,
        out=str(out),
        steps=args.steps or DEFAULT_STEPS,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        grad_clip=args.grad_clip,
        lr=args.lr,
        min_lr=args.min_lr,
        optimizer=args.optimizer,
        warmup=args.warmup,
        size=args.size,
        save_every=args.save_every,
        seed=args.seed,
        device=args.device,
        bf16=not args.no_bf16,
        progress=not args.quiet,
        command=command,
        **METHODS[args.method].knobs(args),
    )
