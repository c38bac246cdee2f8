"""Benchmark the AutoGaze gazer: seconds to gaze a 16-frame 224x224 clip (generation only).

    .venv/bin/python benchmarks/autogaze_speed.py [--checkpoint PATH] [--repeats 5] [--threads N] [--against GIT_REV]

Uses the released architecture (3,258,240 parameters) with random weights, or `--checkpoint`
(a folder / hub id; e.g. the reference's full_seed0 model). With a ratio and no threshold the
work does not depend on the weights: every frame decodes its whole budget. Times are medians
of `--repeats` runs after a warm-up and include preprocessing of the uint8 clip.

Prints a markdown table for the CPU (each case's matrix-product GFLOPs, the time they take at
this machine's float32 matmul peak measured in the same run, a floor no float32 implementation can
beat, and the goal figure: the fraction of that peak the gazer reaches, >= 75 % wanted; also against
a matmul timed just before each call, steadier on a loaded machine), where one clip's time goes at
ratio 0.1 and 1.0, and, when CUDA is available, a second one for the GPU (dynamic fp32 steps, then the decode step as a CUDA graph in fp32 and under bf16 autocast, with how many gazes bf16 changes). The load
average is printed before and after: run it on an otherwise idle machine (OpenMP threads slow
down badly when other processes compete for the cores).

`--against GIT_REV` also times that revision of the playground on the same cases: it is checked out
once into a `git worktree` (under the system's temp folder), and each side runs in its own Python
(this script with PLAYGROUND_ROOT pointing at the checkout), in the order ours, theirs, ours, theirs,
so that a slow spell of the machine hits both. It prints both medians and their ratio.

`--reference PYTHON SRC MODEL` does the same against the reference implementation itself:
`benchmarks/reference_autogaze.py` run by PYTHON (an environment with the reference's transformers
4.51), importing the `autogaze` package of SRC (a checkout of NVlabs/AutoGaze), and this tree
loading the same checkpoint MODEL (e.g. the reference bundle's `autogaze/full_seed0/model`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("PLAYGROUND_ROOT") or HERE)  # `--against` points a child at another checkout
sys.path.insert(0, str(ROOT))

from timing import alternate, scratch_worktree  # noqa: E402

from playground.device import synchronize  # noqa: E402
from playground.gazers.autogaze import AutoGazeGazer, load_autogaze  # noqa: E402
from playground.mllm.flops import StageCounter  # noqa: E402
from playground.models.autogaze import AutoGazeConfig, AutoGazeNet  # noqa: E402
from playground.synthetic import moving_square  # noqa: E402

CPU_CASES = [  # (label, clips, gazing_ratio, the old 2-core target seconds, or None)
    ("1 clip, ratio 0.1", 1, 0.1, 0.15),
    ("1 clip, ratio 1.0", 1, 1.0, 3.0),
    ("8 clips, ratio 0.1", 8, 0.1, 0.6),
    ("8 clips, ratio 1.0", 8, 1.0, None),
]
GOAL = 0.75  # the goal: every CPU case's matrix products at >= 75 % of the float32 matmul peak of the same run
GPU_CASES = [("1 clip, ratio 0.1", 1, 0.1, 0.020), ("64 clips, ratio 0.1", 64, 0.1, 0.150)]
REFERENCE_CPU = {"1 clip, ratio 0.1": 0.95, "1 clip, ratio 1.0": 25.7}  # AUTOGAZE_SPEC.md section 4


def random_gazer(device: str, seed: int = 0) -> AutoGazeGazer:
    """The released architecture with the reference's kind of random init."""
    torch.manual_seed(seed)
    net = AutoGazeNet(AutoGazeConfig())
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("pos_embed"):
                p.normal_()
            elif "gaze_decoder" in name and p.dim() == 2:
                p.normal_(0.0, 0.02)
    return AutoGazeGazer(net, device=device, source="random weights (released architecture)")


def timings(fn, repeats: int, device: torch.device) -> list[float]:
    """Wall seconds of `repeats` calls after a warm-up."""
    fn()
    return [timed(fn, device) for _ in range(repeats)]


def timed(fn, device: torch.device) -> float:
    """Wall seconds of one call of `fn` (the device synchronised)."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def matmul_peak(device: torch.device, sizes=(1024, 2048, 4096), repeats: int = 3) -> tuple[float, str]:
    """Best float32 GFLOP/s of large n x n matmuls: the most this machine's BLAS reaches, and per size."""
    rates = {}
    for n in sizes:
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        rates[n] = 2 * n**3 / min(timings(lambda: a @ b, repeats, device)) / 1e9
    return max(rates.values()), ", ".join(f"{n}^3: {r:.0f}" for n, r in rates.items())


def gaze_gflop(gazer: AutoGazeGazer, video: np.ndarray, ratio: float) -> float:
    """Matrix-product GFLOPs of one `gaze` call (convs, linears, attention; FlopCounterMode)."""
    counter = StageCounter(gazer.device, count=True)
    with counter:
        gazer.gaze(video, gazing_ratio=ratio)
    return counter.flops / 1e9


def run_table(
    gazer: AutoGazeGazer, cases, repeats: int, reference: dict | None = None, peak: float | None = None
) -> None:
    """One row per case; with `peak` (GFLOP/s) also the work, its time at that peak, the rate reached and
    the goal figure: the fraction of the run's peak, and the median of the fractions of a 2048^3 matmul
    timed just before each call (steadier when other processes load the machine)."""
    clip = moving_square()
    header = "| case | seconds (median) | best | old target | decoder calls |"
    if reference:
        header += " reference |"
    if peak:
        header += f" GFLOP | at peak | GFLOP/s reached | of peak | of paired peak | goal >= {GOAL:.0%} |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for label, clips, ratio, target in cases:
        video = np.stack([clip] * clips)
        result = gazer.gaze(video, gazing_ratio=ratio)
        call = partial(gazer.gaze, video, gazing_ratio=ratio)
        times, paired = (
            paired_timings(call, repeats, gazer.device) if peak else (timings(call, repeats, gazer.device), [])
        )
        seconds = statistics.median(times)
        old = f"<= {target:g} ({'met' if seconds <= target else 'missed'})" if target else ""
        row = f"| {label} | {seconds:.3f} | {min(times):.3f} | {old} | {result.settings['decoder_calls']} |"
        if reference:
            ref = reference.get(label)
            row += f" {ref:g} s |" if ref else " |"
        if peak:
            gflop = gaze_gflop(gazer, video, ratio)
            share = gflop / seconds / peak
            near = statistics.median(gflop / s / rate for s, rate in zip(times, paired))
            row += (
                f" {gflop:.1f} | {gflop / peak:.3f} s | {gflop / seconds:.0f} | {share:.0%} | {near:.0%} |"
                f" {'yes' if share >= GOAL else 'no'} |"
            )
        print(row)


def paired_timings(fn, repeats: int, device: torch.device, n: int = 2048) -> tuple[list[float], list[float]]:
    """Seconds of `repeats` calls of `fn` (after a warm-up), each just after an n^3 matmul: (seconds, its GFLOP/s)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    fn()
    a @ b
    times, rates = [], []
    for _ in range(repeats):
        rates.append(2 * n**3 / timed(lambda: a @ b, device) / 1e9)
        times.append(timed(fn, device))
    return times, rates


@contextlib.contextmanager
def phase_probes(gazer: AutoGazeGazer, count: bool, seconds: dict, flops: dict):
    """Time (and count the FLOPs of) the conv encoder, each frame's prefill and each whole frame.

    Uses the gazer's `on_phase` hook (`GazeSession`'s phases "encode", "frame", "prefill"); a
    frame contains its prefill, so its decode steps are frame minus prefill.
    """

    @contextlib.contextmanager
    def probe(name: str):
        counter = StageCounter(gazer.device, count=count and name != "frame")  # FLOP counters do not nest
        with counter:
            yield
        seconds[name] = seconds.get(name, 0.0) + counter.seconds
        if counter.flops is not None:
            flops[name] = flops.get(name, 0) + counter.flops
            flops[name + " attention"] = flops.get(name + " attention", 0) + counter.attention_flops

    gazer.on_phase = probe
    try:
        yield
    finally:
        gazer.on_phase = None


def phase_table(gazer: AutoGazeGazer, ratio: float, repeats: int, peak: float) -> None:
    """Where one clip's time and work go: conv encoder, prefills, decode steps, everything else."""
    clip = moving_square()
    gazer.gaze(clip, gazing_ratio=ratio)  # warm-up
    seconds, flops, totals = {}, {}, []
    with phase_probes(gazer, False, seconds, flops):
        for _ in range(repeats):
            start = time.perf_counter()
            gazer.gaze(clip, gazing_ratio=ratio)
            totals.append(time.perf_counter() - start)
    with phase_probes(gazer, True, {}, flops):
        gazer.gaze(clip, gazing_ratio=ratio)
    whole = StageCounter(gazer.device, count=True)
    with whole:
        gazer.gaze(clip, gazing_ratio=ratio)
    mean = {k: v / repeats for k, v in seconds.items()}
    rows = [
        ("conv encoder", mean["encode"], flops["encode"], flops["encode attention"]),
        ("prefills (one per frame)", mean["prefill"], flops["prefill"], flops["prefill attention"]),
        (
            "decode steps",
            mean["frame"] - mean["prefill"],
            whole.flops - flops["encode"] - flops["prefill"],
            whole.attention_flops - flops["encode attention"] - flops["prefill attention"],
        ),
        (
            "everything else (preprocess, picking, results)",
            statistics.mean(totals) - mean["encode"] - mean["frame"],
            0,
            0,
        ),
    ]
    print(
        f"\n### Where the time goes: 1 clip, ratio {ratio} (mean of {repeats} runs, {statistics.mean(totals):.3f} s each)\n"
    )
    print("| phase | seconds | GFLOP | of which attention | GFLOP/s | of peak |")
    print("|---|---|---|---|---|---|")
    for label, sec, work, attention in rows:
        rate = work / 1e9 / sec if sec > 0 else 0.0
        print(f"| {label} | {sec:.3f} | {work / 1e9:.1f} | {attention / 1e9:.1f} | {rate:.0f} | {rate / peak:.0%} |")


def gpu_section(args) -> None:
    device = torch.device("cuda")
    gazer = load_autogaze(args.checkpoint, device=device) if args.checkpoint else random_gazer("cuda")
    print(f"\n## GPU: {torch.cuda.get_device_name(device)}\n")
    for static, bf16 in ((False, False), (True, False), (True, True)):
        gazer.static, gazer.bf16 = static, bf16
        form = "decode steps as a CUDA graph (static KV cache)" if static else "dynamic decode steps (no graph)"
        print(f"\n### {'bf16 autocast' if bf16 else 'fp32'}, {form}\n")
        run_table(gazer, GPU_CASES, args.repeats)
    clip = np.stack([moving_square(), np.ascontiguousarray(moving_square()[:, :, ::-1])])
    gazer.static, gazer.bf16 = True, False
    fp32 = gazer.gaze(clip, gazing_ratio=0.1)
    gazer.bf16 = True
    bf16 = gazer.gaze(clip, gazing_ratio=0.1)
    gazer.bf16 = False
    same = (fp32.gazing_pos == bf16.gazing_pos).float().mean().item()
    print(
        f"\nbf16 vs fp32 on the synthetic clip and its flip (ratio 0.1): {100 * same:.1f}% of gaze entries "
        f"identical; identical clips: {[bool(torch.equal(a, b)) for a, b in zip(fp32.gazing_pos, bf16.gazing_pos)]}"
    )


def case_medians(repeats: int, checkpoint: str | None = None) -> dict[str, float]:
    """{case: median seconds} of the CPU cases with this process's playground (a `--against` child)."""
    gazer = load_autogaze(checkpoint, device="cpu") if checkpoint else random_gazer("cpu")
    clip = moving_square()
    out = {}
    for label, clips, ratio, _ in CPU_CASES:
        video = np.stack([clip] * clips)
        out[label] = statistics.median(timings(lambda: gazer.gaze(video, gazing_ratio=ratio), repeats, gazer.device))
    return out


def ratio_table(title: str, best: dict[str, dict[str, float]]) -> None:
    ours, theirs = list(best)
    print(f"\n## {title}\n")
    print(f"| case | {ours} s | {theirs} s | speed-up |")
    print("|---|---|---|---|")
    for label, *_ in CPU_CASES:
        a, b = best[ours][label], best[theirs][label]
        print(f"| {label} | {a:.3f} | {b:.3f} | {b / a:.2f}x |")


def child_argv(repeats: int, threads: int | None) -> list[str]:
    return [sys.executable, __file__, "--child-medians", "--repeats", str(repeats)] + (
        ["--threads", str(threads)] if threads else []
    )


def against(rev: str, repeats: int, threads: int | None) -> None:
    """Time the CPU cases here and at `rev` (a git worktree), alternating processes; print both and the ratio."""
    with scratch_worktree(HERE, rev) as (tree, sha):
        argv = child_argv(repeats, threads)
        best = alternate(
            {
                "this tree": (argv, {"PLAYGROUND_ROOT": str(HERE)}),
                f"{rev} ({sha[:10]})": (argv, {"PLAYGROUND_ROOT": str(tree)}),
            }
        )
    ratio_table(
        f"Against {rev} ({sha[:10]}): median of {repeats} calls per process, best of 2 processes per side", best
    )


def against_reference(python: str, src: str, model: str, repeats: int, threads: int | None) -> None:
    """Time the CPU cases here and with the reference implementation (its own Python), alternating."""
    import json
    import tempfile

    check_paths = [(python, "the reference's Python"), (src, "the NVlabs/AutoGaze checkout"), (model, "the checkpoint")]
    for path, what in check_paths:
        if not Path(path).exists():
            raise SystemExit(f"--reference: {what} {path!r} does not exist")
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.npy"
        np.save(clip, moving_square())
        ref = [
            python,
            str(HERE / "benchmarks" / "reference_autogaze.py"),
            "--src",
            src,
            "--model",
            model,
            "--clip",
            str(clip),
            "--repeats",
            str(repeats),
            "--cases",
            json.dumps([[label, clips, ratio] for label, clips, ratio, _ in CPU_CASES]),
        ]
        ref += ["--threads", str(threads)] if threads else []
        ours = child_argv(repeats, threads) + ["--checkpoint", model]
        best = alternate({"this tree": (ours, {"PLAYGROUND_ROOT": str(HERE)}), "reference": (ref, {})})
    ratio_table(
        f"Against the reference implementation ({src}, {model}): median of {repeats} calls per process, "
        "best of 2 processes per side",
        best,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="folder / hub id (default: random weights)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="CASE",
        help="time only these CPU cases (labels as printed, e.g. '1 clip, ratio 0.1')",
    )
    parser.add_argument(
        "--against",
        default=None,
        metavar="GIT_REV",
        help="also time this git revision (a worktree) on the CPU cases, alternating processes",
    )
    parser.add_argument(
        "--reference",
        nargs=3,
        default=None,
        metavar=("PYTHON", "SRC", "MODEL"),
        help="also time the reference implementation: its Python (with transformers 4.51), "
        "a checkout of NVlabs/AutoGaze and a checkpoint folder both sides load",
    )
    parser.add_argument("--child-medians", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child_medians:
        import json

        print(json.dumps(case_medians(args.repeats, args.checkpoint)))
        return
    print(
        f"machine: {platform.machine()} {_cpu_name()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; load average {_load()}"
    )
    if not args.skip_cpu:
        gazer = load_autogaze(args.checkpoint, device="cpu") if args.checkpoint else random_gazer("cpu")
        peak, per_size = matmul_peak(gazer.device)
        print(
            f"weights: {gazer.source}\nfloat32 matmul peak: {peak:.0f} GFLOP/s (best of 3 per size; {per_size})"
            "\n\n## CPU\n"
        )
        cases = [case for case in CPU_CASES if args.only is None or case[0] in args.only]
        if not cases:
            raise SystemExit(f"--only: no such case; the cases are {[case[0] for case in CPU_CASES]}")
        run_table(gazer, cases, args.repeats, REFERENCE_CPU, peak)
        for ratio in sorted({case[2] for case in cases}):
            phase_table(gazer, ratio, args.repeats, peak)
        print(
            "\n'at peak' = the case's matrix-product work (FlopCounterMode) at the best matmul rate above: no float32 "
            "implementation of the same model runs faster than this on this machine. 'of peak' = the work's rate "
            f"over that peak (the goal: >= {GOAL:.0%} in every case); 'of paired peak' = the median over the timed "
            "calls of the same, against a 2048^3 matmul timed just before each call."
        )
        print(f"\nload average after the CPU runs: {_load()} (other processes on the machine slow the figures)")
    if args.against:
        against(args.against, args.repeats, args.threads)
    if args.reference:
        against_reference(*args.reference, args.repeats, args.threads)
    if torch.cuda.is_available():
        gpu_section(args)
    else:
        print("\n(no CUDA device: GPU section skipped)")


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or ""


if __name__ == "__main__":
    main()
