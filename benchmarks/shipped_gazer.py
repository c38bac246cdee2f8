"""Benchmark the shipped gazer `autogaze-playground` on real clips it never saw, against the issue's goals.

    .venv/bin/python benchmarks/shipped_gazer.py [--gazer autogaze-playground] [--videos DIR]

Held out (never trained on): Big Buck Bunny frames 100-131 (two 16-frame clips; the gazer trained on
frames 0-99) and the first 16 frames of `bikes` and `carphone_pristine`, from `../shared/videos`
(or `--videos`). All at 224 px with the `paint` reconstructor:

1. at gazing ratio 0.1 (every gazer keeps 26 patches a frame): the paint loss of the gazer, `random`,
   `framediff` and `greedy`, and the fraction of the random-to-greedy gap the gazer closes
   (goal: at least 0.5 on every clip);
2. at threshold 0.2 (ratio capped at 0.75): the measured loss per frame against the predicted one
   (goal: the measured loss averages at most 0.25).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground import load_gazer, load_reconstructor  # noqa: E402
from playground.training.data import find_videos, list_clips  # noqa: E402
from playground.training.evaluate import EVAL_RATIO, EVAL_THRESHOLD, evaluate_gazer, summary, table  # noqa: E402
from playground.training.recipe import read_frames, write_heldout  # noqa: E402
from playground.training.run_folder import machine  # noqa: E402

VIDEOS = ROOT.parent / "shared" / "videos"


def heldout_clips(videos: Path, folder: Path) -> list:
    """The recipe's held-out clips (`recipe.write_heldout`), written into `folder`."""
    write_heldout(read_frames(videos / "bigbuckbunny.mp4"),
                  [videos / "bikes.mp4", videos / "carphone_pristine.mp4"], folder)
    return list_clips(find_videos([folder]), "first")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gazer", default="autogaze-playground")
    parser.add_argument("--videos", type=Path, default=VIDEOS)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        clips = heldout_clips(args.videos, Path(tmp))
        scores = evaluate_gazer(load_gazer(args.gazer), clips, load_reconstructor("paint"), EVAL_RATIO,
                                EVAL_THRESHOLD, name=args.gazer)
    result = summary(scores)
    print(table(scores, args.gazer))
    print(f"\nlowest gap closed at ratio {EVAL_RATIO}: {result['min_gap_closed']:.2f} (goal >= 0.50: "
          f"{'met' if result['min_gap_closed'] >= 0.5 else 'NOT met'}); mean {result['mean_gap_closed']:.2f}")
    print(f"measured loss at threshold {EVAL_THRESHOLD}: {result['threshold_measured_loss']:.3f} (goal <= 0.25: "
          f"{'met' if result['threshold_measured_loss'] <= 0.25 else 'NOT met'}); predicted "
          f"{result['threshold_predicted_loss']:.3f}, {result['threshold_tokens']:.1f} gazes a frame")


if __name__ == "__main__":
    main()
