"""Gazed vs full MLLM: FLOPs and wall time per stage, on real architectures with random weights.

    .venv/bin/python benchmarks/mllm_speed.py [--frames 8] [--ratios 0.1 0.3] [--gazer framediff]
        [--gazers framediff random AUTOGAZE_FOLDER] [--max-new-tokens 8] [--repeats 2] [--measure-flops]

CPU section: SmolVLM2-256M-Video-Instruct's architecture (config written down in
`playground/mllm/random_models.py`), float32, on `--frames` frames of Big Buck Bunny. Rows: the
stock path (512 px, 64 tokens per frame), the gazed path at each `--ratios` cap (block-causal and
frame-independent attention: one sequence of N tokens vs per-frame batches), and the gazed path at
gazing ratio 1 (every finest patch, 448 px). The load average is printed at the start and the end
(wall times are only comparable on an otherwise idle machine).
Seconds (wall, and process CPU time) are the best of `--repeats` runs per stage (the answer itself
is deterministic: greedy). On a shared machine, `--threads 1` keeps the CPU seconds honest (idle
OpenMP threads spin and inflate CPU time when the cores are contended).
FLOPs are analytic (from the config and each run's token counts); `--measure-flops` adds one
FlopCounterMode pass per row and prints the measured totals beside them.

Then the gazers' own time on the same clip, as a share of the gazed answer's time.

GPU section (only when CUDA is available): the same rows for SmolVLM2-2.2B's and
LLaVA-OneVision-7B's architectures in bfloat16 on 16 frames.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground import as_clips, load_gazer  # noqa: E402
from playground.mllm import random_models as rm  # noqa: E402
from playground.mllm.answer import Answer  # noqa: E402
from playground.mllm.families import FrameProcessing  # noqa: E402
from playground.mllm.model import GazedMLLM  # noqa: E402

VIDEOS = [ROOT.parent / "shared" / "videos" / "bigbuckbunny.mp4", ROOT / "assets" / "bigbuckbunny_clip.mp4"]
AUTOGAZE_RANDOM = ROOT.parent / "shared" / "reference" / "autogaze" / "full_seed0" / "model"
QUESTION = "What happens in this video?"
STAGES = ("gazer", "preprocess", "vision_encoder", "connector", "llm_prefill", "llm_decode", "total")


def _processing(side: int) -> FrameProcessing:
    """Frames squashed to `side` px, mean and std 0.5 (SigLIP), as the models' preprocessor configs hold."""
    return FrameProcessing(side, (0.5,) * 3, (0.5,) * 3, 1 / 255, 1.0)


def build(kind: str, device: torch.device, dtype: torch.dtype) -> GazedMLLM:
    """A random-weight model of a published architecture, wrapped for stock and gazed answers."""
    from transformers import LlavaOnevisionForConditionalGeneration, SmolVLMForConditionalGeneration

    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            if kind == "llava-onevision-7b":
                tok = rm._llava_tokenizer()
                model = LlavaOnevisionForConditionalGeneration(rm.llava_onevision_7b_config(tok))
                processing, template = _processing(384), rm.LLAVA_CHAT_TEMPLATE
            else:
                tok = rm._smolvlm_tokenizer()
                config = rm.smolvlm2_2b_config(tok) if kind == "smolvlm2-2.2b" else rm.smolvlm2_256m_config(tok)
                model = SmolVLMForConditionalGeneration(config)
                processing, template = _processing(config.vision_config.image_size), None
    finally:
        torch.set_default_dtype(previous)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    return GazedMLLM.from_model(model, tok, processing, template, name=f"{kind} (random weights)")


def best_of(runs: list[Answer]) -> Answer:
    """The first run with each stage's time replaced by its minimum over the runs."""
    best = runs[0]
    for attr in ("seconds", "cpu_seconds"):
        first = getattr(best, attr)
        setattr(
            best, attr, {k: min(getattr(r, attr)[k] for r in runs) if first.get(k) is not None else None for k in first}
        )
    return best


def timed_gaze(mllm: GazedMLLM, frames, gazer: str, ratio: float):
    """Gaze on the model's grid; the gaze's process CPU time goes into its settings."""
    cpu = time.process_time()
    gaze = mllm.gaze(frames, gazer, gazing_ratio=ratio)
    gaze.settings["cpu_seconds"] = time.process_time() - cpu
    return gaze


def run_rows(mllm: GazedMLLM, frames, ratios, gazer: str, repeats: int, max_new: int, measure: bool):
    """(label, Answer, measured total FLOPs or None) for the stock path and the gazed variants."""
    gazes = {r: timed_gaze(mllm, frames, gazer, r) for r in ratios}
    gazes[1.0] = load_gazer("full", grid=mllm.grid).gaze(frames)
    rows = [(f"full (stock {mllm.family.stock_side}px)", {})]
    for r in ratios:
        rows.append((f"gazed {gazer} r={r} block-causal", {"gaze": gazes[r]}))
        rows.append((f"gazed {gazer} r={r} frame-indep.", {"gaze": gazes[r], "attention": "frame_independent"}))
    rows.append((f"gazed ratio 1 ({mllm.grid.canvas}px) block-causal", {"gaze": gazes[1.0]}))
    mllm.answer(frames[:2], QUESTION, max_new_tokens=2)  # warm-up (allocator, kernels)
    results = []
    for label, kwargs in rows:
        print(f"  running {label} ...", file=sys.stderr, flush=True)
        runs = [mllm.answer(frames, QUESTION, max_new_tokens=max_new, **kwargs) for _ in range(repeats)]
        answer = best_of(runs)
        if "gaze" in kwargs:
            answer.seconds["gazer"] = kwargs["gaze"].seconds.get("gaze")
            answer.cpu_seconds["gazer"] = kwargs["gaze"].settings.get("cpu_seconds")
        measured = None
        if measure:
            measured = mllm.answer(frames, QUESTION, max_new_tokens=max_new, count_flops=True, **kwargs).measured_flops
        results.append((label, answer, measured))
    return results


def g(x) -> str:
    return "-" if x is None else f"{x / 1e9:,.1f}"


def s(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def markdown(head: list[str], rows: list[list[str]]) -> str:
    """A right-aligned markdown table (first column left-aligned)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]

    def line(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
            + " |"
        )

    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def print_tables(results, measure: bool) -> None:
    head = ["row", "vis tok", "LLM vis", "prompt", "vision", "(attn)", "connector", "prefill", "decode", "total"]
    rows = []
    for label, a, measured in results:
        f = a.flops
        rows.append(
            [
                label,
                f"{a.vision_tokens:,}",
                f"{a.llm_vision_tokens:,}",
                f"{a.llm_prompt_tokens:,}",
                g(f["vision_encoder"]),
                g(f["vision_attention"]),
                g(f["connector"]),
                g(f["llm_prefill"]),
                g(f["llm_decode"]),
                g(f["total"] - (f.get("gazer") or 0)),
            ]
            + ([g(measured["total"])] if measure else [])
        )
    print(f"\nGFLOPs (analytic{'; last column: the FlopCounterMode total' if measure else ''})")
    print(markdown(head + (["measured"] if measure else []), rows))
    for attr, title in (("seconds", "wall seconds"), ("cpu_seconds", "process CPU seconds (all threads)")):
        print(f"\n{title}, best of repeats per stage ('gazer' = the gaze's own time, not in total)")
        print(
            markdown(
                ["row", *STAGES], [[label, *(s(getattr(a, attr).get(k)) for k in STAGES)] for label, a, _ in results]
            )
        )


def print_savings(results) -> None:
    full = results[0][1]
    print("\nvision encoder, gazed vs full (goal: wall-time saving >= half the FLOPs saving)")
    for label, a, _ in results[1:]:
        flops = full.flops["vision_encoder"] / a.flops["vision_encoder"]
        wall = full.seconds["vision_encoder"] / a.seconds["vision_encoder"]
        cpu = full.cpu_seconds["vision_encoder"] / a.cpu_seconds["vision_encoder"]
        if flops <= 1:
            ok = "n/a: the gazed encoder costs more FLOPs here"
        else:
            ok = "met" if cpu >= flops / 2 else "NOT met"  # judged on CPU time: wall time is noisy on a shared machine
        attention = a.flops["vision_attention"] / full.flops["vision_attention"]
        note = f"; its attention costs {attention:.2f}x the stock attention" if attention > 1 else ""
        print(f"  {label}: FLOPs /{flops:.2f}, wall /{wall:.2f}, CPU /{cpu:.2f} -> {ok}{note}")
    print("vision encoder, frame-independent vs block-causal at the same gaze")
    by_label = {label: a for label, a, _ in results}
    for label, a, _ in results:
        causal = by_label.get(label.replace("frame-indep.", "block-causal"))
        if "frame-indep." not in label or causal is None:
            continue
        attention = causal.flops["vision_attention"] / a.flops["vision_attention"]
        flops = causal.flops["vision_encoder"] / a.flops["vision_encoder"]
        wall = causal.seconds["vision_encoder"] / a.seconds["vision_encoder"]
        cpu = causal.cpu_seconds["vision_encoder"] / a.cpu_seconds["vision_encoder"]
        print(
            f"  {label.replace(' frame-indep.', '')}: attention FLOPs /{attention:.2f}, encoder FLOPs /{flops:.2f}, "
            f"wall /{wall:.2f}, CPU /{cpu:.2f}"
        )
    print("LLM prefill, gazed vs full")
    for label, a, _ in results[1:]:
        print(
            f"  {label}: vision tokens {full.llm_vision_tokens} -> {a.llm_vision_tokens}, "
            f"FLOPs /{full.flops['llm_prefill'] / a.flops['llm_prefill']:.2f}, "
            f"CPU /{full.cpu_seconds['llm_prefill'] / a.cpu_seconds['llm_prefill']:.2f}"
        )


def print_gazers(mllm: GazedMLLM, frames, gazers, ratio: float, answer: Answer) -> None:
    wall, cpu = answer.seconds["total"], answer.cpu_seconds["total"]
    print(
        f"\ngazers at ratio {ratio} on the model's grid ({mllm.grid.describe()}): time, and its share of "
        f"(gaze + the gazed answer's {wall:.2f} s wall / {cpu:.2f} s CPU); goal <= 10%"
    )
    for name in gazers:
        label = "autogaze (reference random weights)" if Path(name) == AUTOGAZE_RANDOM else name
        try:
            gaze = timed_gaze(mllm, frames, name, ratio)
        except Exception as exc:  # a gazer that cannot run here is reported, not fatal
            print(f"  {label}: not run ({exc})")
            continue
        g_wall, g_cpu = gaze.seconds["gaze"], gaze.settings["cpu_seconds"]
        print(
            f"  {label}: {g_wall:.2f} s wall ({100 * g_wall / (g_wall + wall):.1f}%), {g_cpu:.2f} s CPU "
            f"({100 * g_cpu / (g_cpu + cpu):.1f}%), {100 * gaze.kept_fraction:.1f}% kept"
        )


def section(kind: str, device: torch.device, dtype: torch.dtype, frames, args) -> None:
    start = time.perf_counter()
    mllm = build(kind, device, dtype)
    print(
        f"\n## {mllm.name}, {device.type} {str(dtype).replace('torch.', '')}, {len(frames)} frames "
        f"{frames.shape[2]}x{frames.shape[1]}, {args.max_new_tokens} new tokens "
        f"(built in {time.perf_counter() - start:.1f} s)"
    )
    print(f"gaze grid: {mllm.grid.describe()}")
    results = run_rows(mllm, frames, args.ratios, args.gazer, args.repeats, args.max_new_tokens, args.measure_flops)
    print_tables(results, args.measure_flops)
    print_savings(results)
    gazed = next(a for label, a, _ in results if "block-causal" in label)
    print_gazers(mllm, frames, args.gazers, args.ratios[0], gazed)
    print("answers (random weights: most generated ids lie beyond the tiny tokenizer and decode to nothing):")
    for label, a, _ in results:
        print(f"  [{label}] {a.new_tokens} new tokens: {a.text!r}")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine skews wall times)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=next((p for p in VIDEOS if p.exists()), None))
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--gazer", default="framediff", help="gazer for the rows (default framediff)")
    parser.add_argument(
        "--gazers",
        nargs="*",
        default=None,
        help="gazers to time (default: framediff, random, and AutoGaze random weights if present)",
    )
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--measure-flops", action="store_true")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default torch's); 1 keeps CPU seconds honest on a shared machine",
    )
    parser.add_argument("--skip-cpu", action="store_true")
    args = parser.parse_args()
    if args.gazers is None:
        args.gazers = ["framediff", "random"] + ([str(AUTOGAZE_RANDOM)] if AUTOGAZE_RANDOM.exists() else [])
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
        f"CUDA {'yes: ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no'}"
    )
    print(f"video: {args.video}")
    print(f"load average at start: {load_average()}")
    if not args.skip_cpu:
        frames = as_clips(args.video, num_frames=args.frames)[0]
        section("smolvlm2-256m", torch.device("cpu"), torch.float32, frames, args)
    if torch.cuda.is_available():
        frames = as_clips(args.video, num_frames=16)[0]
        for kind in ("smolvlm2-2.2b", "llava-onevision-7b"):
            section(kind, torch.device("cuda"), torch.bfloat16, frames, args)
            torch.cuda.empty_cache()
    else:
        print("\n(no CUDA device: the GPU section for SmolVLM2-2.2B and LLaVA-OneVision-7B shapes was not run)")
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
