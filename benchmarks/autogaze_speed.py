"""Benchmark the AutoGaze gazer: seconds to gaze a 16-frame 224x224 clip (generation only).

    .venv/bin/python benchmarks/autogaze_speed.py [--checkpoint PATH] [--repeats 5] [--threads N] [--ceiling]
        [--only CASE ...] [--against GIT_REV]

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

`--ceiling` prints, in place of the CPU table, whether that goal is reachable with these shapes: every
matrix product of one gaze (mm, addmm, bmm, convolution, the SDPA kernel) is recorded with its argument
shapes, strides and dtypes by a TorchDispatchMode, then each distinct one is timed standalone, as many
times as the gaze runs it; the gaze's FLOPs over the sum of those times, as a fraction of the peak, is
the most any implementation that calls these kernels op by op can reach (the shape ceiling). It also
prints the share of the gaze's time outside those products, the rate attention would need for the goal,
and attention's shapes alone (the SDPA kernel, and its two products as plain batched GEMMs). With one
thread it times in process CPU time, which other processes on a loaded machine disturb less.

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
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

HERE = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("PLAYGROUND_ROOT") or HERE)  # `--against` points a child at another checkout
sys.path.insert(0, str(ROOT))

from timing import alternate, scratch_worktree  # noqa: E402

from playground.device import synchronize  # noqa: E402
from playground.gazers.autogaze import AutoGazeGazer, load_autogaze  # noqa: E402
from playground.mllm.flops import CPU_SDPA, StageCounter  # noqa: E402
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


def timings(fn, repeats: int, device: torch.device, clock=time.perf_counter) -> list[float]:
    """Seconds of `repeats` calls after a warm-up (wall time, or another `clock`)."""
    fn()
    return [timed(fn, device, clock) for _ in range(repeats)]


def timed(fn, device: torch.device, clock=time.perf_counter) -> float:
    """Seconds of one call of `fn` (the device synchronised; wall time, or another `clock`)."""
    synchronize(device)
    start = clock()
    fn()
    synchronize(device)
    return clock() - start


def matmul_peak(
    device: torch.device, sizes=(1024, 2048, 4096), repeats: int = 3, clock=time.perf_counter
) -> tuple[float, str]:
    """Best float32 GFLOP/s of large n x n matmuls: the most this machine's BLAS reaches, and per size."""
    rates = {}
    for n in sizes:
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        rates[n] = 2 * n**3 / min(timings(lambda: a @ b, repeats, device, clock)) / 1e9
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


# ---- the shape ceiling: the gaze's matrix products timed one by one, standalone ----------------
PRODUCT_OPS = frozenset(flop_registry) | {CPU_SDPA}  # what FlopCounterMode counts: mm, addmm, bmm, conv, SDPA
KINDS = {"mm": "linear", "addmm": "linear", "bmm": "batched matmul", "baddbmm": "batched matmul"}


class TensorLayout(NamedTuple):
    """A tensor argument as the op saw it, without its values."""

    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: torch.dtype


@dataclass
class Product:
    """One distinct (op, argument layouts) of a gaze's matrix products, in one phase of the gaze."""

    op: torch._ops.OpOverload
    args: tuple
    kwargs: tuple  # (name, value) pairs
    phase: str  # "encode", "prefill" or "decode" (a frame outside its prefill: decode steps, look-ahead)
    calls: int = 0
    inside: float = 0.0  # seconds in the op during the recorded gaze
    flops: int = 0  # of one call
    alone: float = 0.0  # seconds of `calls` calls standalone (median of repeats)

    @property
    def kind(self) -> str:
        name = self.op._overloadpacket.__name__
        return "convolution" if "conv" in name else "attention (SDPA)" if "attention" in name else KINDS.get(name, name)


def _layout(x):
    """A hashable stand-in for op arguments: tensors as `TensorLayout`, lists as tuples."""
    if isinstance(x, torch.Tensor):
        return TensorLayout(tuple(x.shape), x.stride(), x.dtype)
    if isinstance(x, (list, tuple)):
        return tuple(_layout(a) for a in x)
    return x


def _materialise(x):
    """`_layout`'s inverse with fresh values: random floats (zeros for bool and integer tensors)."""
    if isinstance(x, TensorLayout):
        size = 1 + sum((n - 1) * s for n, s in zip(x.shape, x.stride)) if all(x.shape) else 0
        base = torch.randn(size, dtype=x.dtype) if x.dtype.is_floating_point else torch.zeros(size, dtype=x.dtype)
        return base.as_strided(x.shape, x.stride)
    if isinstance(x, tuple):
        return tuple(_materialise(a) for a in x)
    return x


class ProductRecorder(TorchDispatchMode):
    """Records every matrix-product op a call runs (`PRODUCT_OPS`: the kernels FlopCounterMode counts) with
    its argument layouts, its phase of the gaze and its seconds. Like FlopCounterMode it decomposes the
    composite ops (linear, conv3d, scaled_dot_product_attention) into the kernels they run."""

    def __init__(self, clock=time.perf_counter):
        super().__init__()
        self.products: dict[tuple, Product] = {}
        self.phase = "other"
        self.clock = clock

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func._overloadpacket not in PRODUCT_OPS:
            with self:
                out = func.decompose(*args, **kwargs)
            return func(*args, **kwargs) if out is NotImplemented else out
        start = self.clock()
        out = func(*args, **kwargs)
        seconds = self.clock() - start
        key = (func, _layout(args), _layout(tuple(sorted(kwargs.items()))), self.phase)
        product = self.products.get(key) or self.products.setdefault(key, Product(*key))
        product.calls += 1
        product.inside += seconds
        return out

    @contextlib.contextmanager
    def probe(self, name: str):
        """The gazer's `on_phase` hook: tags the products with their phase ("frame" outside a prefill = decode)."""
        before, self.phase = self.phase, {"frame": "decode"}.get(name, name)
        try:
            yield
        finally:
            self.phase = before


def time_standalone(product: Product, repeats: int, clock=time.perf_counter) -> None:
    """Fill in a product's FLOPs and `alone`: the median over `repeats` of `calls` back-to-back calls on
    fresh tensors of the same layouts (after a warm-up call)."""
    args, kwargs = _materialise(product.args), dict(_materialise(product.kwargs))
    with torch.inference_mode():
        counter = StageCounter(torch.device("cpu"), count=True)
        with counter:
            product.op(*args, **kwargs)
        product.flops = counter.flops
        times = []
        for _ in range(repeats):
            start = clock()
            for _ in range(product.calls):
                product.op(*args, **kwargs)
            times.append(clock() - start)
    product.alone = statistics.median(times)


def record_products(gazer: AutoGazeGazer, call, clock) -> list[Product]:
    """The matrix products of one `call()` of the gazer, with their phases and seconds inside the call."""
    recorder = ProductRecorder(clock)
    gazer.on_phase = recorder.probe
    try:
        with recorder:
            call()
    finally:
        gazer.on_phase = None
    return list(recorder.products.values())


def _gflop(products: list[Product]) -> float:
    return sum(p.flops * p.calls for p in products) / 1e9


def breakdown(label: str, products: list[Product], peak: float) -> None:
    """A case's products by phase and kind: work, seconds inside the gaze and standalone, rate."""
    print(f"\n{label}, the products by phase and kind:\n")
    print("| phase | kind | calls | distinct shapes | GFLOP | inside the gaze s | standalone s | GFLOP/s | of peak |")
    print("|---" * 9 + "|")
    groups: dict[tuple[str, str], list[Product]] = {}
    for product in products:
        groups.setdefault((product.phase, product.kind), []).append(product)
    for (phase, kind), group in sorted(groups.items(), key=lambda kv: -sum(p.alone for p in kv[1])):
        gflop, alone = _gflop(group), sum(p.alone for p in group)
        print(
            f"| {phase} | {kind} | {sum(p.calls for p in group)} | {len(group)} | {gflop:.2f} | "
            f"{sum(p.inside for p in group):.3f} | {alone:.3f} | {gflop / alone:.0f} | {gflop / alone / peak:.0%} |",
            flush=True,
        )


def ceiling_table(gazer: AutoGazeGazer, cases, repeats: int) -> None:
    """Per case: the gaze's seconds and the rate it reaches, and the shape ceiling: its matrix-product FLOPs
    over the sum of its products timed standalone, as a fraction of the matmul peak measured just before
    the case; also the rate attention would need for the goal. Each case's breakdown prints as it ends.

    With one thread every time is process CPU time (the time the thread ran: a machine loaded by other
    processes takes the core away for a while, which wall time counts and CPU time does not); with more,
    wall time.
    """
    threads = torch.get_num_threads()
    clock, clock_name = (time.process_time, "process CPU time") if threads == 1 else (time.perf_counter, "wall time")
    clip = moving_square()
    rows = []
    print(f"### Shape ceiling ({clock_name}, medians of {repeats}; load average {_load()} at the start)")
    for label, clips, ratio, _ in cases:
        video = np.stack([clip] * clips)
        peak, _ = matmul_peak(gazer.device, clock=clock)
        call = partial(gazer.gaze, video, gazing_ratio=ratio)
        seconds = statistics.median(timings(call, repeats, gazer.device, clock))
        products = record_products(gazer, call, clock)
        for product in products:
            time_standalone(product, repeats, clock)
        gflop, alone, inside = _gflop(products), sum(p.alone for p in products), sum(p.inside for p in products)
        attention = [p for p in products if p.kind == "attention (SDPA)"]
        # The goal's seconds, less the other products at their standalone speed: what attention may take.
        left = gflop / (GOAL * peak) - (alone - sum(p.alone for p in attention))
        need = f"{_gflop(attention) / left / peak:.0%}" if left > 0 else "impossible"
        rows.append(
            f"| {label} | {threads} | {peak:.0f} | {seconds:.3f} | {gflop:.1f} | {gflop / seconds / peak:.0%} | "
            f"{sum(p.calls for p in products)} | {len(products)} | {1 - inside / seconds:.0%} | {alone:.3f} | "
            f"{gflop / alone:.0f} | **{gflop / alone / peak:.0%}** | {_gflop(attention) / gflop:.0%} | "
            f"{_gflop(attention) / sum(p.alone for p in attention) / peak:.0%} | {need} |"
        )
        breakdown(label, products, peak)
    print(f"\nSummary (load average {_load()} at the end):\n")
    print(
        "| case | threads | peak GFLOP/s (just before) | gaze s | GFLOP | gaze of peak | product calls | "
        "distinct shapes | gaze time outside the products | products standalone s | ceiling GFLOP/s | "
        f"ceiling of peak | attention's share of the GFLOP | attention standalone of peak | "
        f"attention needed for {GOAL:.0%} |"
    )
    print("|---" * 15 + "|")
    print("\n".join(rows))
    print(
        "\n'ceiling' = the case's matrix-product FLOPs over the summed standalone seconds of its products: each "
        "distinct (op, argument shapes, strides, dtype) of one gaze, recorded by a TorchDispatchMode, run on fresh "
        "tensors as many times as the gaze runs it, back to back (median of the repeats, after a warm-up). No "
        "implementation that calls these kernels one by one beats it. 'gaze time outside the products' = 1 - "
        "their seconds inside the recorded gaze / the gaze's median. 'attention needed' = the rate (of peak) "
        f"attention would need for the gaze to reach {GOAL:.0%} with every other product at its standalone speed "
        "and no time outside the products."
    )


def _rate(fn, flop: float, repeats: int, clock) -> float:
    """GFLOP/s of `fn` (flop FLOPs a call): the median over `repeats` of loops of about 20 ms, after a warm-up."""
    fn()
    start, calls = clock(), 0
    while clock() - start < 0.02:
        fn()
        calls += 1
    return (
        flop
        * calls
        / statistics.median(
            timed(lambda: [fn() for _ in range(calls)], torch.device("cpu"), clock) for _ in range(repeats)
        )
        / 1e9
    )


def attention_products_table(cfg: AutoGazeConfig, repeats: int) -> None:
    """The gaze's attention shapes (a decode step's K queries, a prefill's P + K, head size hd, over L cached
    keys): the CPU SDPA kernel with and without an additive mask, and its two products alone as batched GEMMs
    (QK^T and AV, no softmax), as fractions of the matmul peak. Same clock as `ceiling_table`."""
    clock = time.process_time if torch.get_num_threads() == 1 else time.perf_counter
    peak, _ = matmul_peak(torch.device("cpu"), clock=clock)
    H, hd, K = cfg.num_heads, cfg.head_dim, cfg.num_multi_token_pred
    print(
        f"\n### Attention's shapes alone ({H} heads of {hd}; peak {peak:.0f} GFLOP/s just before; "
        f"load average {_load()})\n"
    )
    print("| clips | queries | keys | SDPA with mask | SDPA without | QK^T as bmm | AV as bmm |")
    print("|---" * 7 + "|")
    for B in (1, 8):
        for Q in (K, cfg.tokens_per_frame + K):
            for L in (1024, 3600, 7400):
                q, k, v = torch.randn(B, H, Q, hd), torch.randn(B, H, L, hd), torch.randn(B, H, L, hd)
                mask, kt, scores = torch.zeros(B, 1, Q, L), k.transpose(-1, -2).contiguous(), torch.randn(B, H, Q, L)
                flop = 4 * B * H * Q * L * hd
                rates = [
                    _rate(partial(CPU_SDPA, q, k, v, attn_mask=mask, scale=hd**-0.5), flop, repeats, clock),
                    _rate(partial(CPU_SDPA, q, k, v, scale=hd**-0.5), flop, repeats, clock),
                    _rate(partial(torch.matmul, q, kt), flop / 2, repeats, clock),
                    _rate(partial(torch.matmul, scores, v), flop / 2, repeats, clock),
                ]
                print(f"| {B} | {Q} | {L} | " + " | ".join(f"{r / peak:.0%}" for r in rates) + " |", flush=True)
    print(
        "\nThe decode steps' attention is the first rows of each block (K queries), the prefills' the second; "
        "a gaze's histories grow to about 3,600 keys (ratio 0.1) and 7,400 (ratio 1.0)."
    )


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
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="in place of the CPU table: the shape ceiling (every matrix product of one gaze timed standalone)",
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
        if args.ceiling:
            ceiling_table(gazer, cases, args.repeats)
            attention_products_table(gazer.net.cfg, args.repeats)
        else:
            run_table(gazer, cases, args.repeats, REFERENCE_CPU, peak)
            for ratio in sorted({case[2] for case in cases}):
                phase_table(gazer, ratio, args.repeats, peak)
            print(
                "\n'at peak' = the case's matrix-product work (FlopCounterMode) at the best matmul rate above: no "
                "float32 implementation of the same model runs faster than this on this machine. 'of peak' = the "
                f"work's rate over that peak (the goal: >= {GOAL:.0%} in every case); 'of paired peak' = the median "
                "over the timed calls of the same, against a 2048^3 matmul timed just before each call."
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
