"""`python -m playground convert-videomae SRC DST`: a VideoMAE_AutoGaze `videomae.pt` to `.safetensors`
(the conversion itself is `playground.reconstructors.videomae.convert_checkpoint`)."""

from __future__ import annotations

import argparse
import time

from .args import check_out_file


def add_parser(subparsers) -> None:
    """Register `convert-videomae SRC DST [--dtype D]` on the main CLI's subparsers."""
    parser = subparsers.add_parser(
        "convert-videomae",
        description="Read a VideoMAE_AutoGaze videomae.pt with torch.load(weights_only=True) and write the same "
        "tensors as .safetensors.",
    )
    parser.add_argument("src", help="videomae.pt (a torch.save state dict)")
    parser.add_argument("dst", help="output file ending in .safetensors")
    parser.add_argument(
        "--dtype",
        choices=["float32", "bfloat16", "float16"],
        default=None,
        help="store the tensors in this dtype (default: as in the source)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the `convert-videomae` subcommand; returns the exit status."""
    from ..reconstructors.videomae import convert_checkpoint

    start = time.perf_counter()
    check_out_file(args.dst, "the destination")  # before reading the source: fail at once, in one line
    out = convert_checkpoint(args.src, args.dst, args.dtype)
    size = out.stat().st_size / 2**20
    print(f"wrote {out} ({size:.1f} MiB) in {time.perf_counter() - start:.1f} s")
    return 0
