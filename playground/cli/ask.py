"""`python -m playground ask VIDEO "QUESTION"`: answer on all tokens and on the gazed ones, and compare.

`--conditions` (as `eval`'s; default full,gazed, as the app's Ask tab: one answer per setting) adds other
gazers or ratios and the post-ViT pruning conditions (evs, drop-uniform, drop-random: every patch through the
ViT, then the gazed answer's LLM vision tokens kept). Prints every answer and a table of tokens, GFLOPs and
seconds per stage, one column per condition. Bad input raises
`PlaygroundError`, which the main CLI turns into one line on stderr and exit status 2.

The parser imports no torch (`ask --help` stays under a second): `run` imports the rest.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from .. import knobs
from ..errors import check
from ..knobs import ATTENTION_MODES, DEFAULT_MLLM, MAX_ANSWER_TOKENS
from .args import (
    add_gazing_ratio,
    add_threshold,
    add_video_arguments,
    check_out_file,
    read_frames,
    whole_number_arg,
)

if TYPE_CHECKING:
    from ..evaluation.run import Condition


def add_parser(subparsers) -> None:
    """Register the `ask` subcommand on the main CLI's subparsers (defaults: the app's, whose Ask tab uses the
    Gaze tab's frames, gazer, threshold and ratio, all from `playground.knobs`)."""
    p = subparsers.add_parser(
        "ask",
        description="Ask a video MLLM a question twice, on every patch and on the "
        "gazed patches, and compare answers, tokens, FLOPs and latency.",
    )
    add_video_arguments(p, frames=knobs.NUM_FRAMES)
    p.add_argument("question", help="the question, quoted")
    p.add_argument(
        "--mllm",
        default=DEFAULT_MLLM,
        help="smolvlm2-256m (default) | smolvlm2-500m | smolvlm2-2.2b | llava-onevision-0.5b | "
        "llava-onevision-7b | qwen3-vl-2b | qwen3-vl-4b | qwen3.5-0.8b | qwen3.5-2b | qwen3.5-4b | nvila | "
        "a hub id | a local folder | tiny-random-smolvlm2 | tiny-random-qwen3-vl | tiny-random-qwen3.5 "
        "(built in, offline; random weights: shows the "
        "mechanics and costs, not answers)",
    )
    p.add_argument(
        "--gazer",
        default=knobs.GAZER,
        help=f"greedy | framediff (fast) | random | full | an AutoGaze hub id or folder (default "
        f"{knobs.GAZER}, as the app; greedy is slow on a CPU at the model's grid)",
    )
    add_threshold(p)
    add_gazing_ratio(p, of="the model's gaze grid")
    p.add_argument(
        "--conditions",
        default="full,gazed",
        help="comma-separated, as eval's: full, gazed (--gazer at --gazing-ratio / --threshold), gazed@R, "
        "NAME or NAME@R (another gazer), and post-ViT pruning at a gazed condition's LLM tokens: evs, "
        "drop-uniform, drop-random (or evs:NAME); default full,gazed (as the app's Ask tab)",
    )
    p.add_argument(
        "--attention",
        choices=ATTENTION_MODES,
        default="block_causal",
        help="gazed encoder attention across frames (default block_causal)",
    )
    p.add_argument("--single-scale", action="store_true", help="gaze on the finest scale only (ablation)")
    p.add_argument(
        "--max-new-tokens",
        type=whole_number_arg(1, MAX_ANSWER_TOKENS),
        default=32,
        help=f"answer length cap (default 32, at most {MAX_ANSWER_TOKENS})",
    )
    p.add_argument(
        "--count-flops",
        action="store_true",
        help="measure FLOPs with FlopCounterMode (default: analytic FLOPs from the config)",
    )
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: $PLAYGROUND_DEVICE, else auto)")
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow models that run their own code from the hub (needed for NVILA)",
    )
    p.add_argument("--json", default=None, help="also write the answers to this JSON file, by condition")
    p.set_defaults(func=run)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the `ask` subcommand; returns the exit status."""
    from ..evaluation.run import answer_conditions, parse_conditions
    from ..jsonio import write_json
    from ..mllm import load_mllm
    from ..mllm.answer import attention_warning, comparison_table, display_text
    from ..mllm.nvila import NvilaMLLM
    from ..mllm.random_models import RANDOM_WEIGHTS_NOTE
    from ..video import NO_LIMITS, input_limits

    check(args.question.strip() != "", "the question is empty")
    if args.json is not None:
        check_out_file(args.json, "--json")  # before any work, so a bad path fails at once
    conditions = parse_conditions(args.conditions, args.gazer, args.gazing_ratio, args.threshold, args.attention)
    frames, fps = read_frames(args)
    _say(f"loading {args.mllm} ...")
    mllm = load_mllm(args.mllm, device=args.device, trust_remote_code=args.trust_remote_code)
    if isinstance(mllm, NvilaMLLM):
        answer = mllm.answer(args.video, args.question, max_new_tokens=args.max_new_tokens)
        print(
            f"question  {args.question}\nNVILA     {answer.text}\n({answer.seconds['total']:.2f} s; NVILA gazes "
            f"internally, so there is no stock-vs-gazed table)"
        )
        return 0
    common = dict(max_new_tokens=args.max_new_tokens, fps=fps, count_flops=args.count_flops)
    with input_limits(**NO_LIMITS):  # the frames were read within the CLI's own limits (--max-frames, --max-pixels)
        answers = answer_conditions(
            mllm,
            conditions,
            frames,
            args.question,
            single_scale=args.single_scale,
            on_condition=lambda _, c: _say(f"answering {c.name} ({_describe(c, len(frames))}) ..."),
            **common,
        )
    grid = mllm.single_scale_grid if args.single_scale else mllm.grid
    print(f"model     {mllm.name}  ({len(frames)} frames; gaze grid {grid.describe()})")
    if mllm.note:
        print(f"note      {mllm.note}")
    print(f"question  {args.question}")
    noise = mllm.note == RANDOM_WEIGHTS_NOTE  # random weights' answers are labelled, odd characters escaped
    width = max(9, *(len(name) + 1 for name in answers))
    for c in conditions:
        a = answers[c.name]
        print(f"{c.name.ljust(width)}{display_text(a.text, noise)}  {_kept(c, a)}".rstrip())
    print()
    print(
        comparison_table(
            list(answers.values()), [f"{c.name} ({c.attention})" if c.gazed else c.name for c in conditions]
        )
    )
    full = answers.get("full")
    for c in conditions:
        note = attention_warning(full, answers[c.name]) if full is not None and c.gazed else None
        if note:
            print(note)
    if args.json:
        data = json.loads(json.dumps({name: a.to_json() for name, a in answers.items()}, default=str))
        write_json(data, args.json, indent=2)
    return 0


def _describe(c: Condition, frames: int) -> str:
    if c.pruning:
        return f"every patch, then {c.pruning} to {c.budget_from}'s LLM tokens"
    if c.gazed:
        return f"gazing with {c.gazer}, ratio cap {c.gazing_ratio}, threshold {c.threshold}"
    return f"all tokens, {frames} frames"


def _kept(c: Condition, a) -> str:
    """What a condition kept, in words, after its answer."""
    if c.pruning:
        return f"({a.llm_vision_tokens:,} LLM vision tokens kept after the ViT, {c.budget_from}'s count)"
    if c.gazed:
        return f"({c.gazer}, kept {100 * a.settings['kept_fraction']:.1f}% of slots)"
    return ""
