"""Can a gazer's vision tokens tell a frame's difficulty? A linear probe against simple pixel statistics.

    .venv/bin/python benchmarks/head_probe.py CHECKPOINT [--run runs/broad] [--clips 120] [--after 10]

The target is a frame's difficulty as the labels measure it: `greedy`'s paint loss after `--after`
gazes of that frame (`gazing_labels.json` of a recipe run folder, frames with a longer trace only).
Features: the frame's vision tokens from `CHECKPOINT`'s encoder (`net.encode`: mean, std and mean
absolute value over the P tokens), the same pooling of the patch conv's output before the encoder's
LayerNorm, and four pixel statistics (horizontal and vertical gradient
energy, the change from the previous frame, the standard deviation). A ridge regression is fit on the
first 70 % of the frames (clips in a seeded random order) and scored by R^2 on the rest. A task-loss
head can only stop by a clip's difficulty if its inputs carry it: a low R^2 for the tokens next to a
high one for the pixel statistics says the encoder's tokens lost it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground import load_gazer  # noqa: E402
from playground.training.run_folder import machine  # noqa: E402


def token_features(gazer, video: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W, 3) -> (T, 3D): mean, std and mean |x| of the frame's vision tokens."""
    with torch.no_grad():
        tokens, _ = gazer.net.encode(gazer.preprocess(video[None]).to(gazer.device))
    tokens = tokens[0]  # (T, P, D)
    return torch.cat([tokens.mean(1), tokens.std(1), tokens.abs().mean(1)], -1).float().numpy()


def prenorm_features(gazer, video: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W, 3) -> (T, 3C): the same pooling of the patch conv's output before the encoder's
    LayerNorm (which normalises each patch's channels, and with them its contrast)."""
    with torch.no_grad():
        x = gazer.net.gazing_model.vision_model.temporal_conv(
            gazer.preprocess(video[None]).to(gazer.device).permute(0, 2, 1, 3, 4)
        )[0]  # (C, T, h, w)
    x = x.flatten(2).permute(1, 2, 0)  # (T, P, C)
    return torch.cat([x.mean(1), x.std(1), x.abs().mean(1)], -1).float().numpy()


def pixel_features(video: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W, 3) -> (T, 4): gradient energy x and y, change from the previous frame, std."""
    x = video.astype(np.float32) / 255
    gx = np.abs(np.diff(x, axis=2)).mean(axis=(1, 2, 3))
    gy = np.abs(np.diff(x, axis=1)).mean(axis=(1, 2, 3))
    dt = np.r_[0.0, np.abs(np.diff(x, axis=0)).mean(axis=(1, 2, 3))]
    return np.stack([gx, gy, dt, x.std(axis=(1, 2, 3))], 1)


def ridge_r2(features: np.ndarray, target: np.ndarray, train: int, lam: float = 1e-2) -> float:
    """R^2 on rows [train:] of a ridge fit on rows [:train] (standardised features, a bias)."""
    a = np.c_[features, np.ones(len(features))]
    mu, sd = a[:train].mean(0), a[:train].std(0) + 1e-8
    mu[-1], sd[-1] = 0.0, 1.0
    a = (a - mu) / sd
    w = np.linalg.solve(a[:train].T @ a[:train] + lam * train * np.eye(a.shape[1]), a[:train].T @ target[:train])
    err = a[train:] @ w - target[train:]
    return float(1 - (err**2).mean() / target[train:].var())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "broad", help="a recipe run folder (labels, data)")
    parser.add_argument("--clips", type=int, default=120)
    parser.add_argument("--after", type=int, default=10, help="the target: the loss after this many gazes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    labels_path = args.run / "gazing_labels.json"
    if not labels_path.is_file():
        print(f"no {labels_path}: give --run a recipe run folder", file=sys.stderr)
        return 2
    labels = json.loads(labels_path.read_text())
    keys = sorted(labels)
    random.Random(args.seed).shuffle(keys)
    gazer = load_gazer(args.checkpoint, calibration=None, device="cpu")
    tokens, prenorm, pixels, target = [], [], [], []
    for key in keys[: args.clips]:
        video = np.load(args.run / "data" / key)
        t_feats, p_feats = token_features(gazer, video), pixel_features(video)
        n_feats = prenorm_features(gazer, video)
        for t, trace in enumerate(labels[key]["task_losses"]):
            if len(trace) > args.after:
                tokens.append(t_feats[t])
                prenorm.append(n_feats[t])
                pixels.append(p_feats[t])
                target.append(trace[args.after - 1])
    tokens, prenorm = np.array(tokens), np.array(prenorm)
    pixels, target = np.array(pixels), np.array(target)
    train = int(0.7 * len(target))
    print(f"machine: {machine()}\ncheckpoint: {args.checkpoint}; {len(target)} frames of {args.clips} clips")
    print(f"target: greedy's paint loss after {args.after} gazes, mean {target.mean():.3f}, std {target.std():.3f}\n")
    print("| features | R^2 on held-back frames |\n|---|---|")
    print(f"| vision tokens (pooled) | {ridge_r2(tokens, target, train):.2f} |")
    print(f"| patch conv before the LayerNorm (pooled) | {ridge_r2(prenorm, target, train):.2f} |")
    print(f"| pixel statistics (4) | {ridge_r2(pixels, target, train):.2f} |")
    print(f"| both | {ridge_r2(np.c_[tokens, pixels], target, train):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
