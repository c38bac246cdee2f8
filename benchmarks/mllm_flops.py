"""Analytic ViT and LLM FLOPs of full, gazed and EVS MLLM answers, from configs alone (no weights, no download).

    .venv/bin/python benchmarks/mllm_flops.py [--frames 16 64 256] [--ratios 0.1 0.3] [--gazer framediff]
        [--attention block_causal] [--new-tokens 32] [--video PATH] [--measure | --no-measure]

Models: SmolVLM2-256M-Video-Instruct's, Qwen3-VL-2B-Instruct's and Qwen3.5-2B's architectures (configs
written down in `playground/mllm/random_models.py`; no model is built). Frames are 448 px for both paths:
the stock path squashes every frame to 448 px (SmolVLM2: 28 x 28 patches of 16 px, 49 tokens a frame after
its 4x4 pixel shuffle; Qwen3-VL and Qwen3.5: 2-frame tubelets of 28 x 28 patches, 196 tokens a tubelet after
the 2x2 merge), the gazed path gets one gaze per (frames, ratio) on the 64/128/224/448 px grid at patch 16
(1060 slots a frame), made by `--gazer` on `--frames` frames of `--video`, the same gaze for every model.
Qwen3.5's LLM is a hybrid: its Gated DeltaNet layers are linear in the prompt (`flops.py`). FLOPs are
`estimate_flops` (`playground/mllm/flops.py`): matrix products only, a multiply-add = 2; "ViT" is the
vision encoder (patch embedding and layers), "conn." the connector / merger, "LLM" prefill + decode of
`--new-tokens` tokens with the family's typical prompt text.

Rows are conditions (`conditions()`): each maps (config, frames, gazes) to an `estimate_flops` dict:
`full`, `gazed r=R`, and `evs r=R`, post-ViT pruning (EVS, `playground/mllm/pruning.py`) to the LLM vision
tokens of the gazed row at the same ratio: the stock ViT and connector, the gazed row's LLM tokens (which
tokens EVS keeps does not change FLOPs, so uniform and random dropping cost the same).

With `--measure` (the default when CUDA is available) the models are also built with random weights
(bfloat16, on the GPU) and every row is answered on the frames, once to warm up and once timed: the
seconds of the gazer (its gaze, on the CPU as above), of the vision side (preprocess, encoder, connector,
pruning), of the LLM (prefill and decode) and the total with the gazer. On each EVS row, the gazed row at
the same ratio (the same LLM tokens) against it: the vision side's seconds it saves minus its gazer's; > 0
where gazing before the ViT pays off, < 0 where the gazer costs more than it saves (the break-even is 0).
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
GRID = MultiScaleGrid((64, 128, 224, 448), 16)  # the gaze grid of every model at patch 16
VIDEO = ROOT / "assets" / "bigbuckbunny_clip.mp4"


def models() -> dict[str, object]:
    """name -> config of the published architecture (special ids from a tiny tokenizer of the family)."""
    return {
        "SmolVLM2-256M": rm.smolvlm2_256m_config(rm._smolvlm_tokenizer()),
        "Qwen3-VL-2B": rm.qwen3_vl_2b_config(rm._qwen_tokenizer()),
        "Qwen3.5-2B": rm.qwen3_5_2b_config(rm._qwen_tokenizer()),
    }


def full(config, frames: int, gazes: dict, args) -> dict:
    return estimate_flops(config, frames, None, stock_side=SIDE, new_tokens=args.new_tokens)


def gazed(ratio: float) -> Callable:
    def condition(config, frames: int, gazes: dict, args) -> dict:
        return estimate_flops(
            config, frames, gazes[ratio], stock_side=SIDE, new_tokens=args.new_tokens, attention=args.attention
        )

    return condition


def evs(ratio: float) -> Callable:
    def condition(config, frames: int, gazes: dict, args) -> dict:
        return estimate_flops(
            config,
            frames,
            None,
            stock_side=SIDE,
            new_tokens=args.new_tokens,
            pruned_to=_tokens(config, frames, gazes, f"gazed r={ratio:g}")[1],
        )

    return condition


def conditions(args) -> dict[str, Callable]:
    """Row name -> condition: full, gazed at each ratio, EVS at each gazed row's LLM tokens."""
    rows = {"full": full}
    rows.update({f"gazed r={r:g}": gazed(r) for r in args.ratios})
    rows.update({f"evs r={r:g}": evs(r) for r in args.ratios})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--gazer", default="framediff")
    parser.add_argument("--attention", default="block_causal")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--video", type=Path, default=VIDEO)
    parser.add_argument(
        "--measure",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time every row on random-weight models (default: when CUDA is available)",
    )
    args = parser.parse_args()
    import torch

    measure = torch.cuda.is_available() if args.measure is None else args.measure
    configs = models()
    gazer = load_gazer(args.gazer, grid=GRID)
    print(
        f"{SIDE} px frames, gaze grid {GRID.describe()}, gazer {args.gazer} on {args.video.name}, "
        f"gazed attention {args.attention}, {args.new_tokens} new tokens; GFLOPs (analytic)\n"
    )
    print("| model | frames | row | ViT tok | LLM vis tok | ViT | (attn) | conn. | LLM | total |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    clips, gazes, gazer_seconds = {}, {}, {}
    for T in args.frames:
        clips[T] = as_clips(str(args.video), num_frames=T)[0]
        gazes[T] = {}
        for r in args.ratios:
            started = time.perf_counter()
            gazes[T][r] = gazer.gaze(clips[T], gazing_ratio=r)
            gazer_seconds[T, r] = time.perf_counter() - started
        print(f"<!-- {T} frames gazed in {sum(gazer_seconds[T, r] for r in args.ratios):.1f} s -->", file=sys.stderr)
        for name, config in configs.items():
            for row, condition in conditions(args).items():
                f = condition(config, T, gazes[T], args)
                vit_tokens, llm_tokens = _tokens(config, T, gazes[T], row)
                llm = f["llm_prefill"] + f["llm_decode"]
                print(
                    f"| {name} | {T} | {row} | {vit_tokens:,} | {llm_tokens:,} | {f['vision_encoder'] / 1e9:,.1f} "
                    f"| {f['vision_attention'] / 1e9:,.1f} | {f['connector'] / 1e9:,.1f} | {llm / 1e9:,.1f} "
                    f"| {f['total'] / 1e9:,.1f} |"
                )
    if measure:
        measure_seconds(configs, clips, gazes, gazer_seconds, args)


def measure_seconds(configs: dict, clips: dict, gazes: dict, gazer_seconds: dict, args) -> None:
    """Every row answered on random-weight models on the GPU (bfloat16): seconds per part, the break-even."""
    import torch

    print(
        f"\nmeasured seconds ({torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'}, bfloat16, "
        f"random weights, {args.new_tokens} new tokens at most; the gazer's on the CPU)\n"
    )
    print(
        "| model | frames | row | gazer | vision side | LLM | total with gazer | gazed vs evs: vision saved - gazer |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, config in configs.items():
        mllm = _build(config)
        for T, clip in clips.items():
            seconds = {}
            for row in conditions(args):
                kind, _, ratio = row.partition(" r=")
                kw = {}
                if kind == "gazed":
                    kw = dict(gaze=gazes[T][float(ratio)], attention=args.attention)
                elif kind == "evs":
                    kw = dict(pruning="evs", budget=_tokens(config, T, gazes[T], f"gazed r={ratio}")[1])
                for _ in range(2):  # the first call warms up kernels and allocations
                    a = mllm.answer(clip, "What happens in this video?", max_new_tokens=args.new_tokens, **kw)
                gazer = gazer_seconds[T, float(ratio)] if kind == "gazed" else 0.0
                vision = sum(a.seconds.get(k) or 0.0 for k in ("preprocess", "vision_encoder", "connector", "prune"))
                llm = a.seconds["llm_prefill"] + a.seconds["llm_decode"]
                seconds[row] = (gazer, vision)
                net = "-"
                if kind == "evs":  # the gazed row at this ratio against this one: > 0, gazing before the ViT pays off
                    gazed_gazer, gazed_vision = seconds[f"gazed r={ratio}"]
                    net = f"{vision - gazed_vision - gazed_gazer:+.2f}"
                print(
                    f"| {name} | {T} | {row} | {gazer:.2f} | {vision:.2f} | {llm:.2f} | {gazer + vision + llm:.2f} "
                    f"| {net} |",
                    flush=True,
                )
        del mllm
        torch.cuda.empty_cache()


def _build(config):
    """A random-weight model of `config` on the GPU (bfloat16), wrapped for stock, gazed and pruned answers."""
    import torch
    from transformers import AutoModelForImageTextToText

    from playground.mllm.model import GazedMLLM

    qwen = config.model_type in ("qwen3_vl", "qwen3_5")
    tok = rm._qwen_tokenizer() if qwen else rm._smolvlm_tokenizer()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with device:
            model = AutoModelForImageTextToText.from_config(config).eval()
    finally:
        torch.set_default_dtype(previous)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    processing = rm.qwen_processing(SIDE) if qwen else rm.FrameProcessing(SIDE, (0.5,) * 3, (0.5,) * 3, 1 / 255, 1.0)
    template = rm.QWEN_CHAT_TEMPLATE if qwen else None
    return GazedMLLM.from_model(model, tok, processing, template, name=f"{config.model_type} (random weights)")


def _tokens(config, frames: int, gazes: dict, row: str) -> tuple[int, int]:
    """(patches through the ViT, LLM vision tokens) of a row, by the family's rules."""
    from playground.mllm.families import family_for
    from playground.mllm.gazed_vit import gazed_tokens

    family = family_for(config.model_type)
    shape = family.architecture_shape(config, SIDE)
    if row == "full":
        return sum(family.stock_sequences(shape, frames)[1]), family.stock_llm_tokens(shape, frames)
    if row.startswith("evs"):  # the stock ViT, the gazed row's LLM tokens
        return _tokens(config, frames, gazes, "full")[0], _tokens(config, frames, gazes, row.replace("evs", "gazed"))[1]
    tokens = gazed_tokens(gazes[float(row.split("=")[1])])
    return sum(family.gazed_encoder_tokens(shape, tokens)), family.gazed_llm_tokens(shape, tokens)


if __name__ == "__main__":
    main()
