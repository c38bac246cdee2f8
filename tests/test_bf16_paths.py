"""The bf16 code paths that only CUDA runs, exercised on the CPU with CPU bf16 autocast standing in.

`playground.device.autocast` is a no-op off CUDA by design, so on a machine without a GPU the
bf16 branches (AutoGaze's decode loop, VideoMAE's reconstruction and loss, the oracle, MLLMs with
bfloat16 weights) would never run. These tests swap the helper, inside each module that uses it,
for `torch.autocast("cpu", bfloat16)`, which casts the same ops, so dtype mistakes (a bf16 tensor
reaching numpy, a float32 buffer meeting bf16 activations) fail here rather than on a user's GPU.
They check that the outputs keep their shapes and stay close to float32; GPU numerics themselves
(and the issue's bf16-vs-fp32 gaze comparison) need a GPU: `benchmarks/autogaze_speed.py`.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from conftest import FIXTURES
from test_videomae import CONFIG, MICRO, WEIGHTS

import playground.gazers.autogaze as autogaze_module
import playground.gazers.autogaze.gazer as autogaze_gazer_module
import playground.gazers.oracle as oracle_module
import playground.reconstructors.videomae.reconstructor as videomae_module
from playground import load_gazer, load_mllm
from playground.gaze import concat_frames
from playground.mllm.random_models import save_tiny_smolvlm
from playground.reconstructors.videomae import load_videomae
from playground.synthetic import moving_square

AUTOGAZE = FIXTURES / "autogaze" / "tiny_seed0"


def cpu_bf16(device, enabled: bool = True, cache: bool = True):
    return torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=cache) if enabled else contextlib.nullcontext()


@pytest.fixture(autouse=True)
def bf16_on_cpu(monkeypatch):
    for module in (autogaze_gazer_module, videomae_module, oracle_module):
        monkeypatch.setattr(module, "autocast", cpu_bf16)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return moving_square(8, 224, 224)


def test_autogaze_bf16_static_step_matches_the_dynamic_one(clip):
    """The static step (what CUDA graphs capture) under bf16: bf16 keys meet the float32 cache."""
    dynamic = autogaze_module.load_autogaze(str(AUTOGAZE), bf16=True)
    static = autogaze_module.load_autogaze(str(AUTOGAZE), bf16=True, static=True)
    a, b = dynamic.gaze(clip, gazing_ratio=0.3), static.gaze(clip, gazing_ratio=0.3)
    assert a.gazing_pos.shape == b.gazing_pos.shape
    assert (a.gazing_pos == b.gazing_pos).float().mean() > 0.9  # both round in bf16, differently ordered


def test_autogaze_bf16_gazes_stream_and_videos(clip):
    fp32 = autogaze_module.load_autogaze(str(AUTOGAZE))
    bf16 = autogaze_module.load_autogaze(str(AUTOGAZE), bf16=True)
    a, b = fp32.gaze(clip, gazing_ratio=0.3), bf16.gaze(clip, gazing_ratio=0.3)
    assert a.gazing_pos.shape == b.gazing_pos.shape
    assert (a.gazing_pos == b.gazing_pos).float().mean() > 0.5  # bf16 moves near-ties only
    assert np.isfinite(b.loss.numpy()).mean() > 0.5
    streamed = concat_frames(list(bf16.stream(clip, task_loss_requirement=-0.09)))
    assert streamed.gazing_pos.tolist() == bf16.gaze(clip, task_loss_requirement=-0.09).gazing_pos.tolist()
    retargeted = bf16.gaze(
        moving_square(2, 448, 448), gazing_ratio=0.1, target_scales=[64, 128, 224, 448], target_patch_size=16
    )
    assert retargeted.grid.num_slots == 1060
    assert bf16.gaze_video(moving_square(18, 64, 96), gazing_ratio=0.1).gaze.num_frames == 18


def test_videomae_and_oracle_bf16(clip):
    gaze = load_gazer("greedy").gaze(clip, gazing_ratio=0.1)
    fp32 = load_videomae(str(WEIGHTS), config=str(CONFIG), bf16=False)
    bf16 = load_videomae(str(WEIGHTS), config=str(CONFIG), bf16=True)
    a, b = fp32.reconstruct(clip, gaze, frames=[0, 5]), bf16.reconstruct(clip, gaze, frames=[0, 5])
    assert b.frames.shape == a.frames.shape and b.frames.dtype == torch.uint8
    assert torch.allclose(torch.as_tensor(b.loss), torch.as_tensor(a.loss), rtol=0.05)
    micro = videomae_module.VideoMAEReconstructor.random(MICRO, seed=0, clip_len=8, bf16=True)
    oracle = load_gazer("oracle", reconstructor=micro).gaze(moving_square(2, 64, 64), task_loss_requirement=3.0)
    assert oracle.loss_kind == "measured" and oracle.num_gazed > 0


def test_mllm_with_bfloat16_weights(tmp_path):
    mllm = load_mllm(str(save_tiny_smolvlm(tmp_path / "smolvlm")), dtype=torch.bfloat16)
    frames = np.random.default_rng(0).integers(0, 256, (3, 40, 60, 3), dtype=np.uint8)
    full = mllm.answer(frames, "What happens?", max_new_tokens=3)
    gazed = mllm.answer(frames, "What happens?", gazer=str(AUTOGAZE), gazing_ratio=0.2, max_new_tokens=3)
    assert full.path == "full" and gazed.path == "gazed"
    assert 1 <= gazed.new_tokens <= 3 and gazed.vision_tokens < full.vision_tokens
