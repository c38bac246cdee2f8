"""Frames per second of the app's Live tab on this machine: the per-frame function its stream calls.

    .venv/bin/python benchmarks/live_fps.py [--video assets/bigbuckbunny_clip.mp4] [--frames 48]
        [--gazers greedy autogaze-playground] [--side 224]

Reads frames of a clip (as a camera would send them, at the clip's 480 px read size), then, per gazer,
calls `playground.app.live.live_frame` on each in turn, as the stream does (shrink to `--side` px, gaze
through `gazer.stream`, paint rebuild, overlay | rebuild picture, stats), with the app's torch threads.
The first frame (which loads the model) is left out. Prints wall and CPU time a frame, the frames per
second they allow, and slots kept a frame; the 1-minute load average says how busy the machine was.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from playground.app.callbacks import LIMITS
from playground.app.live import live_frame
from playground.app.pipeline import RunSettings
from playground.video import read_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default="assets/bigbuckbunny_clip.mp4")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--gazers", nargs="+", default=["greedy", "autogaze-playground"])
    parser.add_argument("--side", type=int, default=LIMITS.live_side)
    parser.add_argument("--ratio", type=float, default=RunSettings().gazing_ratio)
    parser.add_argument("--threshold", type=float, default=RunSettings().threshold, help="the page's default")
    args = parser.parse_args()
    torch.set_num_threads(LIMITS.threads())
    frames = read_video(args.video, num_frames=args.frames + 1)
    load = os.getloadavg()[0]
    print(
        f"live fps: {args.video}, {len(frames)} frames of {frames.shape[2]}x{frames.shape[1]} shrunk to "
        f"{args.side} px, threshold {args.threshold}, ratio {args.ratio}, torch threads {torch.get_num_threads()}, "
        f"{os.cpu_count()} CPU cores, 1-min load average {load:.1f} before"
    )
    print(f"{'gazer':<24}{'wall ms':>9}{'CPU ms':>9}{'fps':>7}{'slots':>7}")
    for name in args.gazers:
        _, line, session = live_frame(frames[0], name, args.threshold, args.ratio, None, args.side)  # loads the model
        walls, cpus = [], []
        for frame in frames[1:]:
            wall, cpu = time.perf_counter(), time.process_time()
            _, line, session = live_frame(frame, name, args.threshold, args.ratio, session, args.side)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        check_gazed(line)
        wall_ms, cpu_ms = 1000 * statistics.median(walls), 1000 * statistics.median(cpus)
        print(f"{name:<24}{wall_ms:>9.0f}{cpu_ms:>9.0f}{1000 / wall_ms:>7.1f}{session.kept / session.frames:>7.1f}")
    print(
        f"1-min load average {os.getloadavg()[0]:.1f} after (medians over {args.frames} frames; "
        "fps = 1 / median wall time)"
    )


def check_gazed(line: str) -> None:
    """A stats line, not a one-line error."""
    if "slots kept" not in line:
        raise SystemExit(f"live_frame failed: {line}")


if __name__ == "__main__":
    main()
