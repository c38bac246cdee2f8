"""AutoGaze against the full-size reference vectors (slow; needs the reference folder).

Run with:
    AUTOGAZE_FULL_REF=/work/shared/reference .venv/bin/python -m pytest -m slow tests/test_autogaze_full.py

The folder is the reference bundle (`autogaze/full_seed0`, `autogaze/full_seed0_multistep`);
these tests are skipped when the variable is unset, and never read it otherwise.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from playground.gaze import concat_frames
from playground.synthetic import moving_square

pytestmark = pytest.mark.slow
ROOT = os.environ.get("AUTOGAZE_FULL_REF")
if not ROOT:
    pytest.skip("set AUTOGAZE_FULL_REF to the reference folder to run the full-size vectors", allow_module_level=True)
FULL = Path(ROOT) / "autogaze" / "full_seed0"
MULTI = Path(ROOT) / "autogaze" / "full_seed0_multistep"


@pytest.fixture(scope="module")
def gazer(device):
    from playground.gazers.autogaze import load_autogaze

    return load_autogaze(str(FULL / "model"), device=device)


@pytest.fixture(scope="module", params=[False, True], ids=["dynamic", "static"])
def any_gazer(request, device):
    """Both decode forms: the dynamic cache, and the static step (a CUDA graph on CUDA)."""
    from playground.gazers.autogaze import load_autogaze

    return load_autogaze(str(FULL / "model"), device=device, static=request.param)


@pytest.fixture(scope="module")
def videos():
    a = moving_square()
    return {
        "a": a,
        "b": np.ascontiguousarray(a[:, :, ::-1]),
        "448": moving_square(4, 448, 448),
        "392": moving_square(16, 392, 392),
    }


def same(result, ref, pos_key="gazing_pos"):
    assert result.gazing_pos.tolist() == ref[pos_key]
    assert result.if_padded_gazing.tolist() == ref["if_padded_gazing"]
    if "num_gazing_each_frame" in ref:
        assert result.num_gazing_each_frame.tolist() == ref["num_gazing_each_frame"]
    if "num_non_padded_each_frame" in ref:
        assert result.counts().tolist() == ref["num_non_padded_each_frame"]


CASES = json.loads((FULL / "cases.json").read_text())["cases"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_full_seed0_case(gazer, videos, name):
    case = CASES[name]
    kwargs = dict(case["kwargs"])
    video = np.stack([videos[v] for v in case["videos"]])
    if kwargs.pop("streaming", False):
        result = concat_frames(list(gazer.stream(video, **kwargs)))
    else:
        result = gazer.gaze(video, **kwargs)
    same(result, case)


def test_the_392_video_is_the_generator_at_392(videos):
    assert np.array_equal(np.load(MULTI / "video392_uint8_THWC.npy"), videos["392"])


@pytest.mark.parametrize(
    "name, clips, kwargs",
    [
        ("outputs_ratio0.1_generate_only", "a", {"gazing_ratio": 0.1}),
        ("outputs_ratio0.75_tlr-0.3639_generate_only", "a", {"gazing_ratio": 0.75, "task_loss_requirement": -0.3639}),
        (
            "outputs_batch2_ratio0.75_tlr-0.3639_generate_only",
            "ab",
            {"gazing_ratio": 0.75, "task_loss_requirement": -0.3639},
        ),
        (
            "outputs_res_adapt_392_p14_ratio0.1",
            "392",
            {"gazing_ratio": 0.1, "target_scales": [56, 112, 196, 392], "target_patch_size": 14},
        ),
    ],
)
def test_multistep_outputs(any_gazer, videos, name, clips, kwargs):
    ref = json.loads((MULTI / f"{name}.json").read_text())
    video = videos["392"] if clips == "392" else np.stack([videos[c] for c in clips])
    same(any_gazer.gaze(video, **kwargs), ref)


def test_multistep_streaming(gazer, videos):
    ref = json.loads((MULTI / "outputs_streaming_ratio0.1.json").read_text())
    same(concat_frames(list(gazer.stream(videos["a"], gazing_ratio=0.1))), ref, "gazing_pos_recalibrated")


def test_greedy_trace_first_frames(gazer, videos):
    """Task-loss head values and raw argmax of every decoder call of the 3-frame trace."""
    from playground.models.autogaze import GazeSession

    trace = json.loads((MULTI / "greedy_trace_3frames_tlr-0.3639.json").read_text())
    seen = []
    original = GazeSession._read

    def spy(self, hidden):
        logits, losses = original(self, hidden)
        seen.append((losses[0].cpu().numpy().copy(), logits[0].argmax(-1).cpu()))
        return logits, losses

    GazeSession._read = spy
    gazer.predict_loss = False  # no look-ahead calls: one read per reference decoder call
    try:
        gazer.gaze(videos["a"][:3], **trace["kwargs"])
    finally:
        GazeSession._read = original
        gazer.predict_loss = True
    steps = trace["steps"]
    assert len(seen) == len(steps)
    for (losses, argmax), step in zip(seen, steps):
        assert np.allclose(losses, step["task_loss_head_last"], atol=2e-5)
        assert argmax.tolist() == step["argmax_per_head_raw_logits_last"]


def test_intermediates(gazer, videos):
    from safetensors.torch import load_file

    ref = load_file(str(MULTI / "intermediates.safetensors"))
    with torch.inference_mode():
        feats, _ = gazer.net.encode(gazer.preprocess(videos["a"][None]).to(gazer.device))
    assert torch.allclose(feats.cpu(), ref["vision_embeds_after_connector"], atol=1e-5)
