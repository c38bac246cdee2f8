"""Config-size measurement: one NTP step and one gaze at each AutoGaze size, and what a CPU run buys.

    .venv/bin/python benchmarks/config_sizes.py [--threads 1] [--repeats 3] [--hours 2] [--batch 4] [--gazes 44]

Sizes: `micro`, `tiny` (the shipped gazer), `small` (hidden 128, 3 layers of 4 heads: between tiny and
full, made here from `tiny`'s config) and `full` (the released size). For each: parameters, the median
seconds of one NTP step (`--batch` clips of 16 frames at 224, `--gazes` labelled gazes a frame: the
recipe's labels average 44; teacher-forced pass, loss, backward, no optimiser), of one gaze of a
16-frame 224 clip at the app's defaults (the speed goal: at least 3x faster than greedy, timed here too),
and the NTP steps and clip-epochs that `--hours` of steps buy (labels and GRPO not counted).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from timing import median_seconds  # noqa: E402

from playground import knobs, load_gazer  # noqa: E402
from playground.dataset.job import label_of  # noqa: E402
from playground.gazers.autogaze import AutoGazeGazer  # noqa: E402
from playground.models.autogaze import AutoGazeConfig, AutoGazeNet  # noqa: E402
from playground.training import collate_labels, ntp_loss  # noqa: E402
from playground.training.run_folder import config_template, machine  # noqa: E402
from playground.video import read_video, resize_frames  # noqa: E402

EXAMPLE = ROOT / "assets" / "bigbuckbunny_clip.mp4"


def small_config() -> dict:
    """Between tiny and full: hidden 128, 3 decoder layers of 4 heads."""
    config = copy.deepcopy(config_template("tiny"))
    g = config["gaze_model_config"]
    g["connector_config"]["hidden_dim"] = g["vision_model_config"]["hidden_dim"] = 128
    g["vision_model_config"]["out_dim"] = 128
    d = g["gaze_decoder_config"]
    d.update(hidden_size=128, intermediate_size=256, num_attention_heads=4, num_key_value_heads=4, num_hidden_layers=3)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--gazes", type=int, default=44)
    parser.add_argument("--clips", type=int, default=1500, help="training clips, for the epochs column")
    parser.add_argument("--sizes", nargs="*", default=["micro", "tiny", "small", "full"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.2f}")
    clip = resize_frames(read_video(EXAMPLE, num_frames=16), 224)
    greedy = load_gazer("greedy", device="cpu")
    clips = [clip, np.ascontiguousarray(clip[:, :, ::-1])] * (args.batch // 2) + [clip] * (args.batch % 2)
    batch = collate_labels([label_of(greedy.gaze(c, gazing_ratio=args.gazes / 265 + 1e-6)) for c in clips])
    video = np.stack(clips)
    greedy_s = median_seconds(
        lambda: greedy.gaze(clip, gazing_ratio=knobs.GAZING_RATIO, task_loss_requirement=knobs.THRESHOLD), args.repeats
    )
    print(
        "\n| size | parameters | NTP step (s) | gaze 16x224 (s) | x faster than greedy | "
        f"steps in {args.hours:g} h | clip-epochs of {args.clips} |"
    )
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        torch.manual_seed(0)
        config = small_config() if size == "small" else config_template(size)
        gazer = AutoGazeGazer(AutoGazeNet(AutoGazeConfig.from_dict(config)), device="cpu")
        params = sum(p.numel() for p in gazer.net.parameters())

        def step():
            gazer.net.zero_grad(set_to_none=True)
            ntp_loss(gazer, video, batch).loss.backward()

        step_s = median_seconds(step, args.repeats)
        gaze_s = median_seconds(
            lambda: gazer.gaze(clip, gazing_ratio=knobs.GAZING_RATIO, task_loss_requirement=knobs.THRESHOLD),
            args.repeats,
        )
        steps = args.hours * 3600 / step_s
        print(
            f"| {size} | {params:,} | {step_s:.3f} | {gaze_s:.3f} | {greedy_s / gaze_s:.1f} | {steps:,.0f} | "
            f"{steps * args.batch / args.clips:.0f} |",
            flush=True,
        )
    print(f"\ngreedy gaze 16x224 at the app's defaults: {greedy_s:.3f} s; load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
