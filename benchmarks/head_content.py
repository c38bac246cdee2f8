"""Does a learned gazer's task-loss head see the clip's content? Gazes a frame and measured loss at fixed head thresholds.

    .venv/bin/python benchmarks/head_content.py CHECKPOINT [--clips DIR] [--scenes 6] [--thresholds 0.1 0.2 0.3]

Gazes each validation clip (`CHECKPOINT`'s head, uncalibrated: `calibration=None`, gazing ratio capped
at 0.75) at each head threshold and rebuilds it with `paint`. A head that tracks the clip's difficulty
gazes more on hard clips and fewer on easy ones, so the measured loss stays near the threshold; a
content-blind head gazes the same count on every clip (a loss-by-step curve) and the measured loss
spreads with the clip. Prints, per threshold, each clip's gazes a frame and measured loss, and the
spread over clips of both (the ratio of the largest to the smallest).

`--clips` is a recipe's validation folder (default runs/broad/data/validation: its `real/` blocks and the
first `--scenes` generated scenes). Never point it at the report clips (`playground.training.heldout`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground import load_gazer, load_reconstructor  # noqa: E402
from playground.training.run_folder import machine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--clips", type=Path, default=ROOT / "runs" / "broad" / "data" / "validation")
    parser.add_argument("--scenes", type=int, default=6)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    files = sorted((args.clips / "real").glob("*.npy")) + sorted((args.clips / "scenes").glob("*.npy"))[: args.scenes]
    if not files:
        print(f"no .npy clips under {args.clips}/real or {args.clips}/scenes", file=sys.stderr)
        return 2
    gazer = load_gazer(args.checkpoint, calibration=None, device="cpu")
    paint = load_reconstructor("paint")
    print(f"machine: {machine()}\ngazer: {args.checkpoint} (uncalibrated head)\n")
    print("| head threshold | clip | gazes a frame | measured loss |\n|---|---|---|---|")
    for t in args.thresholds:
        gazes, losses = [], []
        for path in files:
            video = np.load(path)
            gaze = gazer.gaze(video, gazing_ratio=0.75, task_loss_requirement=t)
            gazes.append(gaze.num_gazed / gaze.num_frames)
            losses.append(float(paint.reconstruct(video, gaze).loss.mean()))
            print(f"| {t} | {path.parent.name}/{path.stem} | {gazes[-1]:.1f} | {losses[-1]:.3f} |")
        print(
            f"| {t} | spread (max/min) | {max(gazes) / min(gazes):.1f}x | {max(losses) / max(min(losses), 1e-6):.1f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
