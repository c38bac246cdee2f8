"""Benchmark a learned gazer (default: the shipped `autogaze-playground`) on the held-out real clips, against the issue's goals.

    .venv/bin/python benchmarks/shipped_gazer.py [--gazer autogaze-playground|FOLDER] [--videos DIR] [--legacy]

The clips (`playground.training.heldout.CLIPS`: two Big Buck Bunny clips, `bikes`, `carphone`,
gradio's night Earth and motion graphics) are never trained on nor used to choose runs. Each is read
as the API reads a file (long side 480) and gazed through the public API with `paint`:

1. at t = 0.1, 0.2, 0.3 (gazing ratio capped at the app's 0.75): the measured loss per frame, per clip
   and averaged (goal: within 35 % of t on every clip, within 10 % on average);
2. at gazing ratio 0.1 (threshold off): the loss of the gazer, `random` and `greedy` and the fraction of
   the random-to-greedy gap closed (goal: at least 0.6 on every clip);
3. the time to gaze a 16-frame 224 clip at the app's defaults, the gazer against `greedy`
   (goal: at least 3x faster).

`--legacy` also prints the old card table (224 squashed clips, `evaluate_gazer`). `--videos` is the
folder of bigbuckbunny.mp4, bikes.mp4 and carphone_pristine.mp4 (default ../shared/videos).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground import load_gazer, load_reconstructor  # noqa: E402
from playground.training.heldout import SHARED, evaluate_goals, report  # noqa: E402
from playground.training.run_folder import machine  # noqa: E402


def legacy(gazer, name: str, videos: Path) -> None:
    """The previous card's table: 224 squashed clips through `evaluate_gazer` (ratio 0.1, threshold 0.2)."""
    from playground.clips import find_videos, list_clips
    from playground.training.evaluate_gazer import EVAL_RATIO, EVAL_THRESHOLD, evaluate_gazer, table
    from playground.training.recipe import read_frames, write_heldout

    with tempfile.TemporaryDirectory() as tmp:
        write_heldout(
            read_frames(videos / "bigbuckbunny.mp4"),
            [videos / "bikes.mp4", videos / "carphone_pristine.mp4"],
            Path(tmp),
        )
        clips = list_clips(find_videos([Path(tmp)]), "first")[0]
        scores = evaluate_gazer(gazer, clips, load_reconstructor("paint"), EVAL_RATIO, EVAL_THRESHOLD, name=name)
    print("\nlegacy table (224 squashed clips):\n" + table(scores, name))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gazer", default="autogaze-playground", help="a gazer name or a checkpoint folder")
    parser.add_argument("--videos", type=Path, default=SHARED)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3, help="timed gazes for the speed (median)")
    parser.add_argument("--legacy", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    gazer = load_gazer(args.gazer, device="cpu")
    results, speeds = evaluate_goals(gazer, args.videos, repeats=args.repeats)
    text, ok = report(results, speeds, Path(args.gazer).name)
    print(text)
    print(f"\nall goals {'met' if ok else 'NOT met'}")
    if args.legacy:
        legacy(gazer, Path(args.gazer).name, args.videos)
    return 0


if __name__ == "__main__":
    sys.exit(main())
