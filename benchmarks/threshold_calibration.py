"""What the threshold gives: the measured loss against the requested threshold, per stop and calibration.

For each video, 16 frames spread over it (the app's and the CLI's default read), gazed through the
public API (`load_gazer(...).gaze(frames, task_loss_requirement=t)`) and rebuilt by the reconstructor:
the mean measured loss, the share of frames at or below t, gazes per frame and seconds, for the head's
threshold as is (`calibration=None`), through the gazer's calibration ("auto"), and with the measured stop.

    .venv/bin/python benchmarks/threshold_calibration.py --videos ../shared/videos/bigbuckbunny.mp4 \
        ../shared/videos/bikes.mp4 ../shared/videos/carphone_pristine.mp4
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from playground import load_gazer, load_reconstructor
from playground.calibration import threshold_note
from playground.video import read_video

MODES = {"uncalibrated": {"calibration": None}, "calibrated": {}, "measured stop": {"stop": "measured"}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gazer", default="autogaze-playground")
    p.add_argument("--reconstructor", default="paint")
    p.add_argument("--videos", nargs="+", required=True)
    p.add_argument("--thresholds", nargs="+", type=float, default=[0.1, 0.2, 0.3])
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    args = p.parse_args()
    clips = {v: read_video(v, num_frames=args.frames) for v in args.videos}
    reconstructor = load_reconstructor(args.reconstructor)
    print(f"{args.gazer} + {reconstructor.name}, {len(clips)} videos x {args.frames} frames spread over each")
    print(
        f"{'mode':14s} {'t':>5s} {'measured':>9s} {'per video':>24s} {'<= t':>6s} {'gazes/fr':>8s} "
        f"{'gaze s':>7s} {'measure s':>9s}  threshold"
    )
    for mode in args.modes:
        gazer = load_gazer(args.gazer, **MODES[mode])
        for t in args.thresholds:
            losses, kept, seconds, measure, note = [], [], 0.0, 0.0, ""
            for frames in clips.values():
                start = time.perf_counter()
                gaze = gazer.gaze(frames, task_loss_requirement=t)
                seconds += time.perf_counter() - start
                measure += gaze.seconds.get("measure", 0.0)
                losses.append(reconstructor.reconstruct(frames, gaze).loss[0].numpy())
                kept.append(gaze.counts()[0].float().mean().item())
                note = threshold_note(gaze.settings, reconstructor.name)
            flat = np.concatenate(losses)
            per_video = " ".join(f"{np.mean(l):.3f}" for l in losses)
            print(
                f"{mode:14s} {t:5.2f} {flat.mean():9.4f} {per_video:>24s} {np.mean(flat <= t + 1e-9):6.0%} "
                f"{np.mean(kept):8.1f} {seconds:7.2f} {measure:9.2f}  {note}"
            )


if __name__ == "__main__":
    main()
