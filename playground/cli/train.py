"""`python -m playground train ntp|grpo ...`: train a gazer into a run folder (`playground.training.trainer`).

NTP learns from a labels file (`python -m playground labels`); GRPO improves a trained gazer with a
reconstruction reward. `--resume RUN` continues a run exactly. Several processes: launch the same
command with `torchrun --nproc_per_node N -m playground train ...` (DDP; rank 0 writes).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from ..errors import check
from ..training.data import CLIP_CHOICES, CLIP_LEN, SIZE
from ..training.run_folder import checkpoints
from ..training.sampler import SELF_PASS_REQUIREMENT, TEMPERATURE, TOP_K
from ..training.trainer import TrainSettings, train_gazer
from .args import check_out_folder, nonnegative_int, positive_int, whole_number

DEFAULT_STEPS = 100


def add_parser(subparsers) -> None:
    """Register `train ntp` and `train grpo` on the main CLI's subparsers."""
    p = subparsers.add_parser(
        "train",
        description="Train an AutoGaze gazer into a run folder (checkpoints in the published "
                    "layout, metrics.jsonl, curves.html, a run card).")
    methods = p.add_subparsers(dest="method", required=True, parser_class=type(p))
    ntp = methods.add_parser("ntp", help="next-token prediction on gazing labels")
    ntp.add_argument("--labels", required=False, help="gazing_labels.json (from `python -m playground labels`)")
    ntp.add_argument("--config", default="tiny", help="a fresh model's size: micro | tiny | full | a config.json (default tiny)")
    ntp.add_argument("--init", default=None, help="start from this checkpoint instead of a fresh model")
    _common(ntp, batch=2, optimizer="adam", warmup=0.0)
    grpo = methods.add_parser("grpo", help="GRPO with a reconstruction reward, from a trained gazer")
    grpo.add_argument("--init", default=None, help="the gazer to improve: a checkpoint or a run folder (required)")
    grpo.add_argument("--reconstructor", default="paint", help="the reward's reconstructor: paint | a VideoMAE checkpoint")
    grpo.add_argument("--group-size", type=whole_number(2, 1024), default=12, help="rollouts per clip (default 12)")
    grpo.add_argument("--discount", type=float, default=0.995, help="per-gaze discount of the advantages (default 0.995)")
    grpo.add_argument("--temperature", type=float, nargs=2, default=TEMPERATURE, metavar=("START", "END"),
                      help=f"rollout temperature, decaying exponentially (default {TEMPERATURE[0]:g} {TEMPERATURE[1]:g})")
    grpo.add_argument("--top-k", type=nonnegative_int, default=TOP_K, help=f"sample among the k best ids (default {TOP_K})")
    grpo.add_argument("--self-requirement", type=float, nargs=2, default=SELF_PASS_REQUIREMENT, metavar=("LOW", "HIGH"),
                      help="the budget pass's task-loss requirement range (default "
                           f"{SELF_PASS_REQUIREMENT[0]:g} {SELF_PASS_REQUIREMENT[1]:g}, VideoMAE's scale)")
    grpo.add_argument("--clips", choices=CLIP_CHOICES, default="all", help="clips of each video (default all)")
    grpo.add_argument("--clip-len", type=whole_number(1, 1024), default=CLIP_LEN,
                      help=f"frames per clip (default {CLIP_LEN})")
    grpo.add_argument("--no-augment", action="store_true", help="no random crops and flips")
    _common(grpo, batch=1, optimizer="sgd", warmup=0.1)


def _common(p: argparse.ArgumentParser, batch: int, optimizer: str, warmup: float) -> None:
    p.add_argument("--videos", nargs="+", default=[], help="video files or folders (searched recursively)")
    p.add_argument("--out", default=None, help="the run folder (required unless --resume)")
    p.add_argument("--resume", default=None, metavar="RUN", help="continue RUN exactly from its last checkpoint")
    p.add_argument("--steps", type=positive_int, default=None,
                   help=f"optimiser steps (default {DEFAULT_STEPS}; with --resume: the run's, or raise it)")
    p.add_argument("--batch-size", type=positive_int, default=batch, help=f"clips per micro-batch and process (default {batch})")
    p.add_argument("--grad-accum", type=positive_int, default=1, help="micro-batches per step (default 1)")
    p.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (default 5e-4)")
    p.add_argument("--min-lr", type=float, default=1e-5, help="the linear decay ends here (default 1e-5)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default=optimizer, help=f"(default {optimizer})")
    p.add_argument("--warmup", type=float, default=warmup, help=f"fraction of steps warming up (default {warmup:g})")
    p.add_argument("--size", type=whole_number(16, 4096), default=SIZE, help=f"frame side in px (default {SIZE})")
    p.add_argument("--save-every", type=nonnegative_int, default=0, help="keep a checkpoint every N steps (0: the last)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the fresh weights, order and draws")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: $PLAYGROUND_DEVICE, else auto)")
    p.add_argument("--no-bf16", action="store_true", help="float32 on CUDA too (bf16 autocast is the default there)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run `train ntp|grpo`; returns the exit status."""
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
    print(f"wrote {last} (load it with load_gazer({str(last)!r})); metrics in {out / 'metrics.jsonl'}, "
          f"curves in {out / 'curves.html'}")
    return 0


def _settings(args: argparse.Namespace, out, command: str) -> TrainSettings:
    check(len(args.videos) > 0, "give --videos (files or folders)")
    settings = TrainSettings(
        method=args.method, videos=args.videos, out=str(out), labels=getattr(args, "labels", None),
        config=getattr(args, "config", "tiny"), init=args.init, reconstructor=getattr(args, "reconstructor", "paint"),
        steps=args.steps or DEFAULT_STEPS, batch_size=args.batch_size, grad_accum=args.grad_accum, lr=args.lr,
        min_lr=args.min_lr, optimizer=args.optimizer, warmup=args.warmup, size=args.size, save_every=args.save_every,
        seed=args.seed, device=args.device, bf16=not args.no_bf16, progress=not args.quiet, command=command)
    if args.method == "grpo":
        settings.group_size, settings.discount_factor = args.group_size, args.discount
        settings.temperature_start, settings.temperature_end = args.temperature
        settings.top_k, settings.self_requirement = args.top_k, tuple(args.self_requirement)
        settings.clips, settings.augment, settings.clip_len = args.clips, not args.no_augment, args.clip_len
    return settings
