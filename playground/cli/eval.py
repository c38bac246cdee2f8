"""`python -m playground eval QUESTIONS --videos DIR --mllm NAME --conditions full,gazed --out DIR`: a gazed
MLLM against the same model on every patch over a whole question set (`playground.evaluation`; docs/eval.md).

Writes records.jsonl (resumable), summary.json, report.md (also printed) and report.html into --out.
Under torchrun / accelerate launch every rank answers its share and rank 0 merges; --ray runs on Ray.
The parser imports no torch (`eval --help` stays under a second): `run` imports the rest.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import knobs
from ..errors import PlaygroundError
from ..knobs import ATTENTION_MODES, DEFAULT_MLLM, DEFAULT_RATIO, FORMATS, MAX_ANSWER_TOKENS, MAX_NEW_TOKENS
from .args import check_out_folder, knob, positive_int, whole_number_arg

SHOWN_ERRORS = 10  # unanswered questions printed on stderr; all are in report.md


def add_parser(subparsers) -> None:
    """Register the `eval` subcommand on the main CLI's subparsers."""
    p = subparsers.add_parser(
        "eval",
        description="Answer every question of a multiple-choice set (HLVid, Video-MME or MVBench rows in JSONL, "
        "JSON, CSV or Parquet) on all tokens and on gazed tokens of the same frames, and report "
        "accuracy with 95%% intervals, the paired flips with McNemar's exact test, and tokens, FLOPs "
        "and seconds per condition. Questions already in --out are skipped, so the same command resumes.",
    )
    p.add_argument("questions", metavar="QUESTIONS", help="the question file (.jsonl, .json, .csv, .parquet)")
    p.add_argument(
        "--videos",
        default=None,
        metavar="DIR",
        help="the folder the rows' videos are in (default: the question file's folder)",
    )
    p.add_argument("--out", required=True, help="evaluation folder (created if needed)")
    p.add_argument(
        "--mllm",
        default=DEFAULT_MLLM,
        help=f"the MLLM: an alias as for `ask --mllm` (default {DEFAULT_MLLM}), a hub id, a local folder, "
        "or tiny-random-smolvlm2 / tiny-random-qwen3-vl / tiny-random-qwen3.5 (built in and offline; their random "
        "weights answer noise)",
    )
    p.add_argument(
        "--conditions",
        default="full,gazed",
        help="comma-separated: full (every patch), gazed (--gazer at --ratio / --threshold), gazed@R "
        "(at gazing ratio R), NAME or NAME@R (another gazer); post-ViT pruning at a gazed condition's "
        "LLM tokens: evs, drop-uniform, drop-random (of the 'gazed' condition, else the first gazed "
        "one), or evs:NAME (of gazed condition NAME); default full,gazed",
    )
    p.add_argument(
        "--gazer",
        default="framediff",
        help="the gazed conditions' gazer: framediff (default) | greedy | random | full | an AutoGaze hub "
        "id or folder (e.g. nvidia/AutoGaze)",
    )
    p.add_argument(
        "--threshold",
        type=knob(knobs.threshold, "--threshold"),
        default=None,
        help="error threshold of the gazed conditions: a frame stops once its loss is at or below it (0 or none = off)",
    )
    p.add_argument(
        "--ratio",
        type=knob(knobs.gazing_ratio, "--ratio"),
        default=None,
        help=f"cap on gazed slots per frame, a fraction of the model's gaze grid (default {DEFAULT_RATIO} "
        "when no --threshold is given)",
    )
    p.add_argument(
        "--frames",
        type=whole_number_arg(1, 1024),
        default=knobs.NUM_FRAMES,
        help=f"frames sampled uniformly over each video, the same for every condition (default {knobs.NUM_FRAMES})",
    )
    p.add_argument(
        "--attention",
        choices=ATTENTION_MODES,
        default="block_causal",
        help="gazed encoder attention across frames (default block_causal)",
    )
    p.add_argument(
        "--format",
        type=_format,
        default=None,
        metavar="|".join(FORMATS),
        help="the rows' format (default: detected from the first row's fields)",
    )
    p.add_argument("--limit", type=positive_int, default=None, metavar="N", help="only the first N questions")
    p.add_argument(
        "--max-new-tokens",
        type=whole_number_arg(1, MAX_ANSWER_TOKENS),
        default=MAX_NEW_TOKENS,
        help=f"greedy answer length cap (default {MAX_NEW_TOKENS}, lmms-eval's; at most {MAX_ANSWER_TOKENS})",
    )
    p.add_argument(
        "--count-flops",
        action="store_true",
        help="also measure every MLLM stage with FlopCounterMode (default: analytic, exact for these "
        "models; the gazer's FLOPs are counted in any case)",
    )
    p.add_argument(
        "--no-gazer-flops",
        action="store_true",
        help="do not count the gazer's FLOPs (a second, untimed pass of the gazer per question)",
    )
    p.add_argument(
        "--device",
        default=None,
        help="cpu | cuda | cuda:N (default: $PLAYGROUND_DEVICE, else auto; under torchrun, cuda:LOCAL_RANK)",
    )
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow models that run their own code from the hub (off by default)",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="answer on Ray: a local Ray, or the cluster at ADDRESS (auto, ray://host:10001); write "
        "--ray=ADDRESS or put it after QUESTIONS (needs: pip install .[ray])",
    )
    p.add_argument(
        "--workers",
        type=whole_number_arg(1, 1024),
        default=1,
        help="with --ray: model actors answering at once (a GPU each when the cluster has GPUs; default 1)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar, no printed report")
    p.set_defaults(func=run)


def _format(text: str) -> str:
    """argparse type for --format: a known format's name."""
    from ..evaluation.questions import format_name

    try:
        return format_name(text)
    except PlaygroundError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    """Run the `eval` subcommand; returns the exit status."""
    from tqdm.auto import tqdm

    from ..evaluation import parse_conditions, read_questions, run_eval
    from ..evaluation.report import REPORT_HTML, REPORT_MD
    from ..evaluation.run import EvalSettings, join_ranks
    from ..staging import interrupt_on_signals

    out = check_out_folder(args.out)
    questions, fmt = read_questions(args.questions, args.videos, args.format)
    questions = questions[: args.limit] if args.limit else questions
    conditions = parse_conditions(args.conditions, args.gazer, args.ratio, args.threshold, args.attention)
    settings = EvalSettings(
        mllm=args.mllm,
        conditions=conditions,
        frames=args.frames,
        max_new_tokens=args.max_new_tokens,
        count_flops=args.count_flops,
        gazer_flops=not args.no_gazer_flops,
        device=args.device,
        trust_remote_code=args.trust_remote_code,
    )
    share = join_ranks(args.device)
    quiet = args.quiet or not share.main
    with (
        tqdm(total=None, desc="answering", unit="question", disable=quiet, file=sys.stderr) as bar,
        interrupt_on_signals(),
    ):

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = run_eval(
            questions, out, settings, fmt, str(Path(args.questions)), share, args.ray, args.workers, progress
        )
    if not share.main:
        return 0
    if not args.quiet:
        print((out / REPORT_MD).read_text())
    errors = result.summary["errors"]
    for e in errors[:SHOWN_ERRORS]:
        print(f"not answered: {e['question_id']}: {e['error']}", file=sys.stderr)
    if len(errors) > SHOWN_ERRORS:
        print(f"... and {len(errors) - SHOWN_ERRORS} more (see {out / REPORT_MD})", file=sys.stderr)
    n = result.summary["n"]
    where = f" (rank 0 of {share.size}: its share)" if share.size > 1 else ""
    print(
        f"wrote {out}: {n['answered']} of {n['questions']} questions answered in every condition, {n['errors']} "
        f"could not be; this run answered {result.answered}{where} and skipped {result.skipped} done before; "
        f"report in {out / REPORT_HTML}; {result.seconds:.1f} s"
    )
    return 0
