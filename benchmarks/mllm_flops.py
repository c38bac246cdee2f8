"""Analytic ViT and LLM FLOPs of full and gazed MLLM answers, from configs alone (no weights, no download).

    .venv/bin/python benchmarks/mllm_flops.py [--frames 16 64 256] [--ratios 0.1 0.3] [--gazer framediff]
        [--attention block_causal] [--new-tokens 32] [--video PATH]

Models: SmolVLM2-256M-Video-Instruct's and Qwen3-VL-2B-Instruct's architectures (configs written down in
`playground/mllm/random_models.py`; no model is built). Frames are 448 px for both paths: the stock path
squashes every frame to 448 px (SmolVLM2: 28 x 28 patches of 16 px, 49 tokens a frame after its 4x4 pixel
shuffle; Qwen3-VL: 2-frame tubelets of 28 x 28 patches, 196 tokens a tubelet after its 2x2 merge), the
gazed path gets one gaze per (frames, ratio) on the 64/128/224/448 px grid at patch 16 (1060 slots a
frame), made by `--gazer` on `--frames` frames of `--video`, the same gaze for both models. FLOPs are
`estimate_flops` (`playground/mllm/flops.py`): matrix products only, a multiply-add = 2; "ViT" is the
vision encoder (patch embedding and layers), "conn." the connector / merger, "LLM" prefill + decode of
`--new-tokens` tokens with the family's typical prompt text.

Rows are conditions (`CONDITIONS`): each maps (config, frames, gazes) to an `estimate_flops` dict. A
condition that prunes tokens after the ViT (EVS) adds one function there and its name to `--conditions`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground import as_clips, load_gazer  # noqa: E402
from playground.geometry import MultiScaleGrid  # noqa: E402
from playground.mllm import estimate_flops  # noqa: E402
from playground.mllm import random_models as rm  # noqa: E402

SIDE = 448  # px of every frame, both paths
GRID = MultiScaleGrid((64, 128, 224, 448), 16)  # the gaze grid of both models at patch 16
VIDEO = ROOT / "assets" / "bigbuckbunny_clip.mp4"


def models() -> dict[str, object]:
    """name -> config of the published architecture (special ids from a tiny tokenizer of the family)."""
    return {"SmolVLM2-256M": rm.smolvlm2_256m_config(rm._smolvlm_tokenizer()),
            "Qwen3-VL-2B": rm.qwen3_vl_2b_config(rm._qwen_tokenizer())}


def full(config, frames: int, gazes: dict, args) -> dict:
    return estimate_flops(config, frames, None, stock_side=SIDE, new_tokens=args.new_tokens)


def gazed(ratio: float) -> Callable:
    def condition(config, frames: int, gazes: dict, args) -> dict:
        return estimate_flops(config, frames, gazes[ratio], stock_side=SIDE, new_tokens=args.new_tokens,
                              attention=args.attention)
    return condition


def conditions(args) -> dict[str, Callable]:
    """Row name -> condition. EVS (post-ViT pruning) adds its rows here."""
    rows = {"full": full}
    rows.update({f"gazed r={r:g}": gazed(r) for r in args.ratios})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--gazer", default="framediff")
    parser.add_argument("--attention", default="block_causal")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--video", type=Path, default=VIDEO)
    args = parser.parse_args()
    configs = models()
    gazer = load_gazer(args.gazer, grid=GRID)
    print(f"{SIDE} px frames, gaze grid {GRID.describe()}, gazer {args.gazer} on {args.video.name}, "
          f"gazed attention {args.attention}, {args.new_tokens} new tokens; GFLOPs (analytic)\n")
    print("| model | frames | row | ViT tok | LLM vis tok | ViT | (attn) | conn. | LLM | total |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for T in args.frames:
        clip = as_clips(str(args.video), num_frames=T)[0]
        started = time.perf_counter()
        gazes = {r: gazer.gaze(clip, gazing_ratio=r) for r in args.ratios}
        print(f"<!-- {T} frames gazed in {time.perf_counter() - started:.1f} s -->", file=sys.stderr)
        for name, config in configs.items():
            for row, condition in conditions(args).items():
                f = condition(config, T, gazes, args)
                vit_tokens, llm_tokens = _tokens(config, T, gazes, row)
                llm = f["llm_prefill"] + f["llm_decode"]
                print(f"| {name} | {T} | {row} | {vit_tokens:,} | {llm_tokens:,} | {f['vision_encoder'] / 1e9:,.1f} "
                      f"| {f['vision_attention'] / 1e9:,.1f} | {f['connector'] / 1e9:,.1f} | {llm / 1e9:,.1f} "
                      f"| {f['total'] / 1e9:,.1f} |")


def _tokens(config, frames: int, gazes: dict, row: str) -> tuple[int, int]:
    """(patches through the ViT, LLM vision tokens) of a row, by the family's rules."""
    from playground.mllm.families import family_for
    from playground.mllm.gazed_vit import gazed_tokens

    family = family_for(config.model_type)
    shape = family.architecture_shape(config, SIDE)
    if row == "full":
        return sum(family.stock_sequences(shape, frames)[1]), family.stock_llm_tokens(shape, frames)
    tokens = gazed_tokens(gazes[float(row.split("=")[1])])
    return sum(family.gazed_encoder_tokens(shape, tokens)), family.gazed_llm_tokens(shape, tokens)


if __name__ == "__main__":
    main()
