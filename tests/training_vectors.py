"""Checks of the training math against one set of the reference's vectors (tiny or full size).

`tests/test_training.py` runs them on the tiny set in `tests/fixtures/training`;
`tests/test_training_full.py` on the full-size set of the reference folder (slow).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from playground.gazers.autogaze import load_autogaze
from playground.synthetic import moving_square
from playground.training import collate_labels, grpo_loss, ntp_loss

RTOL = 1e-4  # the bound, relative to each tensor's largest magnitude
BATCH_KEYS = ("gazing_pos", "if_padded_gazing", "num_gazing_each_frame", "task_losses")
ROLLOUT_KEYS = ("gazing_pos", "if_padded_gazing", "num_gazing_each_frame")


def videos() -> np.ndarray:
    """uint8 (2, 16, 224, 224, 3): the reference's video_a and video_b (its horizontal flip)."""
    a = moving_square()
    return np.stack([a, a[:, :, ::-1]])


def assert_close(name: str, got: torch.Tensor, want: torch.Tensor) -> None:
    got, want = got.detach().double().cpu(), want.double()
    assert got.shape == want.shape, f"{name}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    err = (got - want).abs().max().item() / max(want.abs().max().item(), 1e-12)
    assert err <= RTOL, f"{name}: relative error {err:.2e} > {RTOL}"


def assert_gradients(gazer, ref: dict[str, torch.Tensor]) -> None:
    grads = gazer.gradients()
    want = {k[len("grad."):]: v for k, v in ref.items() if k.startswith("grad.")}
    assert set(grads) == set(want)
    for key, value in want.items():
        assert_close(f"grad {key}", grads[key], value)


def check_collate(folder: Path) -> None:
    ref = load_file(str(folder / "ntp.safetensors"))
    batch = collate_labels(list(json.loads((folder / "gazing_labels.json").read_text()).values()))
    for key in BATCH_KEYS:
        assert_close(key, batch[key].to(ref[key].dtype), ref[key])
    assert batch["if_padded_gazing"].dtype == torch.bool


def check_ntp(folder: Path, model: Path, device) -> None:
    ref = load_file(str(folder / "ntp.safetensors"))
    gazer = load_autogaze(str(model), device=device)
    batch = collate_labels(list(json.loads((folder / "gazing_labels.json").read_text()).values()))
    out = ntp_loss(gazer, videos(), batch)
    out.loss.backward()
    assert_close("loss", out.loss.reshape(1), ref["loss"])
    for key in ("ntp_loss", "task_loss_prediction_loss"):
        assert_close(key, out.terms[key], ref[key])
    assert_close("log_action_probs", out.log_action_probs, ref["log_action_probs"])
    assert_close("task_loss_prediction", out.task_loss_prediction, ref["task_loss_prediction"])
    assert_gradients(gazer, ref)


def check_grpo(folder: Path, model: Path, device) -> None:
    ref = load_file(str(folder / "grpo.safetensors"))
    meta = json.loads((folder / "meta.json").read_text())
    gazer = load_autogaze(str(model), device=device)
    out = grpo_loss(gazer, videos()[:1], {k: ref[k] for k in ROLLOUT_KEYS},
                    frames_rebuilt=ref["frames_rebuilt"].tolist(), reconstruction_loss=ref["reconstruction_loss"],
                    group_size=meta["group_size"], discount_factor=meta["discount_factor"])
    out.loss.backward()
    assert_close("loss", out.loss.reshape(1), ref["loss"])
    for key in ("grpo_loss", "task_loss_prediction_loss"):
        assert_close(key, out.terms[key], ref[key])
    for key in ("reward", "traj_len_each_reward", "task_losses", "task_losses_mask"):
        assert_close(key, out.extras[key].to(ref[key].dtype), ref[key])
    assert_close("log_action_probs", out.log_action_probs, ref["log_action_probs"])
    assert_close("task_loss_prediction", out.task_loss_prediction, ref["task_loss_prediction"])
    assert_gradients(gazer, ref)
