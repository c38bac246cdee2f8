"""Command line: `python -m playground gaze VIDEO ...` and friends.

One module a subcommand (`gaze`, `ask`, `convert`, `labels`, `gaze-dataset`, `train`, `evaluate-gazer`, `eval`), each with
`add_parser(subparsers)`, registered
from `SUBCOMMANDS`; what they share lives in `args`. Every subcommand turns a `PlaygroundError` into
one line on stderr and exit status 2; outputs are written to a temporary folder first and moved
into place only when everything succeeded, so a failed run never leaves half-written files behind.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ..errors import PlaygroundError
from . import ask, convert, dataset, evaluate, gaze, labels, train
from . import eval as question_eval  # `eval`: a module name, not the builtin
from .args import add_video_arguments, check_out_file, check_out_folder, read_frames

EXIT_BAD_INPUT = 2
SUBCOMMANDS = (gaze, ask, convert, labels, dataset, train, evaluate, question_eval)  # in the order `--help` lists them


class _Parser(argparse.ArgumentParser):
    """argparse that exits with status 2 and a one-line message (its default prints usage too)."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The `python -m playground` parser with every subcommand in `SUBCOMMANDS`."""
    parser = _Parser(prog="python -m playground", description="AutoGaze Playground command line")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for subcommand in SUBCOMMANDS:
        subcommand.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv) and run the subcommand; returns the exit status."""
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


__all__ = ["main", "build_parser", "read_frames", "add_video_arguments", "check_out_file", "check_out_folder",
           "EXIT_BAD_INPUT", "SUBCOMMANDS"]
