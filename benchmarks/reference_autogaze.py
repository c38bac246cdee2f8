"""Time the reference implementation (NVlabs/AutoGaze) on the CPU cases of `autogaze_speed.py`.

    REFERENCE_PYTHON benchmarks/reference_autogaze.py --src AUTOGAZE_SRC --model MODEL_DIR --clip CLIP.npy
        --cases '[["1 clip, ratio 0.1", 1, 0.1], ...]' [--repeats 3] [--threads 2]

Run by `autogaze_speed.py --reference PYTHON SRC MODEL`, not by hand. It imports nothing from the
playground: it runs in the reference's own environment (transformers 4.51), with the reference's
source folder on the path, times the cases it is given (label, clips, gazing ratio: the parent's
`CPU_CASES`), and prints one JSON line, {case: median seconds}. The reference's
`AutoGaze.forward(..., generate_only=True)` is timed on the clip preprocessed once by the
reference's own `AutoGazeImageProcessor` (the playground's times include its preprocessing, so the
comparison favours the reference slightly).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True, help="a checkout of NVlabs/AutoGaze")
    parser.add_argument("--model", required=True, help="an AutoGaze checkpoint folder (from_pretrained)")
    parser.add_argument("--clip", required=True, help="uint8 (T, H, W, 3) .npy")
    parser.add_argument("--cases", required=True, help="JSON list of [label, clips, gazing ratio]")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sys.path.insert(0, args.src)
    from autogaze.models.autogaze import AutoGaze, AutoGazeImageProcessor

    model = AutoGaze.from_pretrained(args.model).eval()
    processor = AutoGazeImageProcessor.from_pretrained(args.model)
    clip = np.load(args.clip)
    video = processor(list(clip), return_tensors="pt")["pixel_values"]  # (1, T, 3, 224, 224)
    out = {}
    with torch.inference_mode():
        for label, clips, ratio in json.loads(args.cases):
            batch = video.expand(clips, *video.shape[1:]).contiguous()
            model({"video": batch}, gazing_ratio=ratio, generate_only=True)  # warm-up
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                model({"video": batch}, gazing_ratio=ratio, generate_only=True)
                times.append(time.perf_counter() - start)
            out[label] = statistics.median(times)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
