"""VideoMAE_AutoGaze speed at the published (vit-mae-large) size, with random weights.

Times `VideoMAEReconstructor.reconstruct` on the synthetic 16-frame 224 px clip with 20 gazed
slots per frame (321 encoder tokens with the CLS, as in the reference timing of AUTOGAZE_SPEC.md
section 4.4: 3.9-4.2 s for 2 frames and 13.6-16.6 s for all 16 frames, L1 only, on a 2-core CPU).
On CPU it runs in float32; when CUDA is present it also times bf16 autocast (target: <= 150 ms
for 16 frames on an H100/H200-class GPU).

    .venv/bin/python benchmarks/videomae_speed.py [--repeats 3] [--gpu-repeats 20]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground.device import synchronize  # noqa: E402
from playground.gaze import GazeResult  # noqa: E402
from playground.reconstructors.videomae import VideoMAEReconstructor, build_model  # noqa: E402
from playground.synthetic import moving_square  # noqa: E402

GAZES_PER_FRAME = 20
REFERENCE_CPU = {"2 frames, L1": "3.9-4.2 s", "16 frames, L1": "13.6-16.6 s"}


def random_gaze(num_frames: int, per_frame: int, num_slots: int = 265, seed: int = 0) -> GazeResult:
    gen = torch.Generator().manual_seed(seed)
    slots = [[torch.randperm(num_slots, generator=gen)[:per_frame].tolist() for _ in range(num_frames)]]
    return GazeResult.from_frame_slots(slots)


def gemm_gflops(seconds: float = 1.0) -> float:
    """Achieved float32 GEMM throughput right now (a (321x1024) @ (1024x4096) product, the encoder's MLP)."""
    a, w = torch.randn(321, 1024), torch.randn(4096, 1024)
    a @ w.T
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ w.T
        count += 1
    return 2 * 321 * 1024 * 4096 * count / (time.perf_counter() - start) / 1e9


def machine_line() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, load average {load:.1f}, "
        f"float32 GEMM {gemm_gflops():.0f} GFLOP/s"
    )


def run_cases(model, device, cases, repeats: int, bf16: bool, unit: str) -> list[tuple[str, str, str]]:
    """Time each case `repeats` times, round-robin so that every case sees the same machine load."""
    video, gaze = moving_square(16), random_gaze(16, GAZES_PER_FRAME)
    calls = []
    for label, frames, terms, rebuild in cases:
        rec = VideoMAEReconstructor(model, device, bf16=bf16, loss_terms=terms, rebuild=rebuild)
        call = functools.partial(rec.reconstruct, video, gaze, frames=frames)
        call()  # warm-up
        calls.append((label, call))
    times: dict[str, list[float]] = {label: [] for label, _ in calls}
    for _ in range(repeats):
        for label, call in calls:
            synchronize(device)
            start = time.perf_counter()
            call()
            synchronize(device)
            times[label].append(time.perf_counter() - start)
    scale, digits = (1000, 0) if unit == "ms" else (1, 2)
    rows = []
    for label, _ in calls:
        t = times[label]
        rows.append((label, f"{statistics.median(t) * scale:.{digits}f} {unit}", f"{min(t) * scale:.{digits}f} {unit}"))
        print(f"  {label}: median {rows[-1][1]}, min {rows[-1][2]} over {repeats}", flush=True)
    return rows


def print_table(title: str, rows, reference: dict[str, str] | None = None) -> None:
    print(f"\n{title}")
    print("| case | median | min | reference |\n|---|---|---|---|")
    for label, median, best in rows:
        ref = next((v for k, v in (reference or {}).items() if label.startswith(k)), "")
        print(f"| {label} | {median} | {best} | {ref} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed CPU runs per case (median reported)")
    parser.add_argument("--gpu-repeats", type=int, default=20, help="timed GPU runs per case")
    parser.add_argument("--skip-cpu", action="store_true", help="only the GPU section")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine before: {machine_line()}", flush=True)

    start = time.perf_counter()
    model = build_model(seed=0)
    build = time.perf_counter() - start
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(
        f"vit-mae-large VideoMAE_AutoGaze, random weights: {params:.1f} M parameters, built in {build:.1f} s "
        f"(reference: 3.8 s); torch {torch.__version__}, {torch.get_num_threads()} CPU threads",
        flush=True,
    )
    all_frames = list(range(16))
    if not args.skip_cpu:
        cases = [
            ("2 frames, L1 only, together (reference semantics)", [7, 15], ["l1"], "together"),
            ("16 frames, L1 only, together (reference semantics)", all_frames, ["l1"], "together"),
            ("16 frames, L1 only, separate (default)", all_frames, ["l1"], "separate"),
            ("16 frames, full loss (L1 + DINOv2 + SigLIP2), separate (default)", all_frames, None, "separate"),
        ]
        print("CPU, float32:", flush=True)
        rows = run_cases(model, torch.device("cpu"), cases, args.repeats, bf16=False, unit="s")
        print_table(
            f"CPU float32 ({torch.get_num_threads()} threads), {GAZES_PER_FRAME} gazes/frame, "
            f"seconds per reconstruct call",
            rows,
            REFERENCE_CPU,
        )
        print(f"machine after: {machine_line()}")
    if not torch.cuda.is_available():
        print("\nGPU section skipped: CUDA is not available on this machine.")
        return
    device = torch.device("cuda")
    model = model.to(device)
    cases = [
        ("16 frames, full loss, separate (default)", all_frames, None, "separate"),
        ("16 frames, full loss, together", all_frames, None, "together"),
        ("16 frames, L1 only, separate", all_frames, ["l1"], "separate"),
    ]
    print(f"GPU ({torch.cuda.get_device_name(device)}), bf16 autocast:", flush=True)
    rows = run_cases(model, device, cases, args.gpu_repeats, bf16=True, unit="ms")
    print_table(
        f"GPU {torch.cuda.get_device_name(device)}, bf16 autocast, ms per reconstruct call (target <= 150 ms)", rows
    )


if __name__ == "__main__":
    main()
