"""Command line: `python -m playground gaze VIDEO ...` and friends.

One module a subcommand (`gaze`, `ask`, `convert`, `labels`, `gaze-dataset`, `train`, `evaluate-gazer`,
`eval`), each with `add_parser(subparsers)`, registered in `COMMANDS` with its one-line help; what they share lives in `args`.
Only the subcommand being run is imported (with torch and the rest), so `python -m playground --help`
lists the subcommands from `COMMANDS` alone, in well under a second (benchmarks/cli_speed.py).
Every subcommand turns a `PlaygroundError` into one line on stderr and exit status 2; outputs are
written to a temporary folder first and moved into place only when everything succeeded, so a
failed run never leaves half-written files behind.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, Sequence

from ..errors import PlaygroundError

EXIT_BAD_INPUT = 2
# command -> (module in playground.cli, the one-line help `--help` lists), in the order `--help` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "gaze": ("gaze", "gaze a video, rebuild it, write overlay/reconstruction/metrics"),
    "ask": ("ask", "answer a question about a video on all tokens and on gazed tokens"),
    "convert-videomae": ("convert", "convert videomae.pt to .safetensors (safe to load, no pickle)"),
    "labels": ("labels", "write gazing labels (the official gazing_labels.json) for NTP training"),
    "gaze-dataset": ("dataset", "gaze every clip of many videos into Parquet shards (resumable; local pool or Ray)"),
    "train": ("train", "train a gazer: NTP on labels, then GRPO with a reconstruction reward"),
    "evaluate-gazer": ("evaluate_gazer", "a gazer against random, framediff and greedy at an equal budget"),
    "calibrate": ("calibrate", "map a learned gazer's threshold to a reconstructor's measured loss (calibration.json)"),
    "eval": ("eval", "accuracy, flips, tokens, FLOPs and seconds of a gazed MLLM vs full over a question set"),
}
_LAZY = {"read_frames", "add_video_arguments", "check_out_file", "check_out_folder"}  # from `args`, on first use


class _Parser(argparse.ArgumentParser):
    """argparse that exits with status 2 and a one-line message (its default prints usage too)."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message}\n")


class _Registrar:
    """The subparsers as a subcommand's `add_parser` sees them: each command gets its help from `COMMANDS`."""

    def __init__(self, subparsers):
        self._subparsers = subparsers

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs.setdefault("help", COMMANDS[name][1] if name in COMMANDS else None)
        return self._subparsers.add_parser(name, **kwargs)


def subcommand_module(name: str):
    """The module of command `name` (imported now: it brings torch and the rest)."""
    return importlib.import_module(f"{__name__}.{COMMANDS[name][0]}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The `python -m playground` parser with every subcommand in `COMMANDS`.

    `only`: build that subcommand's full parser and list the others by name and help alone, so that
    only its module is imported (None: every subcommand in full).
    """
    parser = _Parser(prog="python -m playground", description="AutoGaze Playground command line")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    registrar = _Registrar(subparsers)
    for name, (_, help_text) in COMMANDS.items():
        if only is None or name == only:
            subcommand_module(name).add_parser(registrar)
        else:
            subparsers.add_parser(name, help=help_text, add_help=False)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` names (its first word that is not an option), if it is one; else "" (none)."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else ""


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv) and run the subcommand; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=_command_in(argv))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PlaygroundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def __getattr__(name: str):
    if name in _LAZY:  # the shared argument helpers, imported when first asked for
        from . import args

        return getattr(args, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "main",
    "build_parser",
    "read_frames",
    "add_video_arguments",
    "check_out_file",
    "check_out_folder",
    "EXIT_BAD_INPUT",
    "COMMANDS",
    "subcommand_module",
]
