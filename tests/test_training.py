"""Training math against the reference's vectors, the sampler's distribution, labels checks.

The vectors run on the tiny set in `tests/fixtures/training` (copied from the reference bundle) and,
marked slow, on the full-size set of the reference folder:

    AUTOGAZE_FULL_REF=/work/shared/reference .venv/bin/python -m pytest -m slow tests/test_training.py

(skipped when the variable is unset; the folder is never read otherwise).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FIXTURES
from safetensors.torch import load_file

from playground.errors import PlaygroundError
from playground.gazers.autogaze import load_autogaze
from playground.synthetic import moving_square
from playground.training import Sampler, collate_labels, grpo_loss, ntp_loss, rollouts, temperature
from playground.training.labels import read_labels

VECTORS = FIXTURES / "training"
TINY = FIXTURES / "autogaze" / "tiny_seed0"
FULL_REF = Path(os.environ.get("AUTOGAZE_FULL_REF") or ".")
SETS = [  # (training vectors, the model they were made with)
    pytest.param((VECTORS, TINY), id="tiny"),
    pytest.param(
        (FULL_REF / "training" / "full_seed0", FULL_REF / "autogaze" / "full_seed0" / "model"),
        id="full",
        marks=[
            pytest.mark.slow,
            pytest.mark.skipif(
                not os.environ.get("AUTOGAZE_FULL_REF"),
                reason="set AUTOGAZE_FULL_REF to the reference folder to run the full-size vectors",
            ),
        ],
    ),
]
CHI2_999 = {49: 85.35}  # 99.9 % quantile of chi-square with 49 degrees of freedom
RTOL = 1e-4  # the bound, relative to each tensor's largest magnitude
BATCH_KEYS = ("gazing_pos", "if_padded_gazing", "num_gazing_each_frame", "task_losses")
ROLLOUT_KEYS = ("gazing_pos", "if_padded_gazing", "num_gazing_each_frame")


@pytest.fixture(scope="module")
def tiny(device):
    return load_autogaze(str(TINY), device=device)


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
    want = {k[len("grad.") :]: v for k, v in ref.items() if k.startswith("grad.")}
    assert set(grads) == set(want)
    for key, value in want.items():
        assert_close(f"grad {key}", grads[key], value)


@pytest.mark.parametrize("vectors", SETS)
def test_collate_matches_reference(vectors):
    folder, _ = vectors
    ref = load_file(str(folder / "ntp.safetensors"))
    batch = collate_labels(list(json.loads((folder / "gazing_labels.json").read_text()).values()))
    for key in BATCH_KEYS:
        assert_close(key, batch[key].to(ref[key].dtype), ref[key])
    assert batch["if_padded_gazing"].dtype == torch.bool


@pytest.mark.parametrize("vectors", SETS)
def test_ntp_matches_reference(vectors, device):
    folder, model = vectors
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


@pytest.mark.parametrize("vectors", SETS)
def test_grpo_matches_reference(vectors, device):
    folder, model = vectors
    ref = load_file(str(folder / "grpo.safetensors"))
    meta = json.loads((folder / "meta.json").read_text())
    gazer = load_autogaze(str(model), device=device)
    out = grpo_loss(
        gazer,
        videos()[:1],
        {k: ref[k] for k in ROLLOUT_KEYS},
        frames_rebuilt=ref["frames_rebuilt"].tolist(),
        reconstruction_loss=ref["reconstruction_loss"],
        group_size=meta["group_size"],
        discount_factor=meta["discount_factor"],
    )
    out.loss.backward()
    assert_close("loss", out.loss.reshape(1), ref["loss"])
    for key in ("grpo_loss", "task_loss_prediction_loss"):
        assert_close(key, out.terms[key], ref[key])
    for key in ("reward", "traj_len_each_reward", "task_losses", "task_losses_mask"):
        assert_close(key, out.extras[key].to(ref[key].dtype), ref[key])
    assert_close("log_action_probs", out.log_action_probs, ref["log_action_probs"])
    assert_close("task_loss_prediction", out.task_loss_prediction, ref["task_loss_prediction"])
    assert_gradients(gazer, ref)


def test_head_weight_scales_only_the_head_term(tiny):
    """`head_weight` multiplies the head's squared error in the total; the reported terms stay unweighted."""
    batch = collate_labels(list(json.loads((VECTORS / "gazing_labels.json").read_text()).values()))
    plain = ntp_loss(tiny, videos(), batch)
    weighted = ntp_loss(tiny, videos(), batch, head_weight=50.0)
    for key in plain.terms:
        torch.testing.assert_close(weighted.terms[key], plain.terms[key])
    want = (plain.terms["ntp_loss"] + 50.0 * plain.terms["task_loss_prediction_loss"]).mean()
    torch.testing.assert_close(weighted.loss, want)
    assert weighted.loss > plain.loss  # the head's error is > 0 on random weights


def test_gradients_use_checkpoint_keys(tiny):
    from safetensors import safe_open

    with safe_open(str(TINY / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    tiny.net.zero_grad(set_to_none=True)
    assert tiny.gradients() == {}
    batch = collate_labels(list(json.loads((VECTORS / "gazing_labels.json").read_text()).values()))
    from playground.training import ntp_loss

    ntp_loss(tiny, videos(), batch).loss.backward()
    assert set(tiny.gradients()) == keys
    tiny.net.zero_grad(set_to_none=True)


def test_sampler_first_row_follows_tempered_top_k_softmax():
    """Row 0 of a step: softmax(logits / T) over the 50 best allowed ids (chi-square, 20k draws)."""
    V, K, draws, T = 266, 2, 20000, 2.0  # two heads: row 0 is tested, row 1 shows the within-step ban
    logits = torch.randn(1, K, V, generator=torch.Generator().manual_seed(1)).numpy() * 3
    used = np.zeros((draws, V), dtype=bool)
    used[:, :5] = True  # ids already gazed this frame are banned
    sampler = Sampler(T, generator=torch.Generator().manual_seed(2))
    tokens, early = sampler(torch.from_numpy(np.repeat(logits, draws, 0)), torch.from_numpy(used), left=K, K=K)
    assert tokens.shape == (draws, K) and tokens.dtype == torch.int64 and not early
    tokens = tokens.numpy()
    allowed = logits[0, 0].copy()
    allowed[:5] = -np.inf
    allowed[-1] = -np.inf  # never EOS
    scaled = torch.from_numpy(allowed) / T
    top = scaled.topk(50).indices
    probs = torch.zeros(V, dtype=torch.float64)
    probs[top] = scaled[top].double().softmax(0)
    counts = np.bincount(tokens[:, 0], minlength=V)
    assert counts[probs.numpy() == 0].sum() == 0  # nothing outside the top 50 or banned
    expected = probs.numpy()[top.numpy()] * draws
    chi2 = ((counts[top.numpy()] - expected) ** 2 / expected).sum()
    assert chi2 < CHI2_999[49], chi2
    # Later rows never repeat an id of the same step.
    assert all(len(set(row)) == K for row in tokens.tolist())


def test_sampler_is_seeded_and_cold_sampling_is_greedy(tiny, synthetic_clip):
    budgets = [26] * 16
    a = tiny.sample(synthetic_clip, budgets, Sampler(2.0, generator=torch.Generator().manual_seed(3)))
    b = tiny.sample(synthetic_clip, budgets, Sampler(2.0, generator=torch.Generator().manual_seed(3)))
    c = tiny.sample(synthetic_clip, budgets, Sampler(2.0, generator=torch.Generator().manual_seed(4)))
    assert torch.equal(a.gazing_pos, b.gazing_pos) and not torch.equal(a.gazing_pos, c.gazing_pos)
    cold = tiny.sample(synthetic_clip, budgets, Sampler(1e-4, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(cold.gazing_pos, tiny.gaze(synthetic_clip, gazing_ratio=0.1).gazing_pos)


def test_rollouts_share_each_clips_self_pass_budget(tiny):
    clips = videos()[:, :4]
    out = rollouts(tiny, clips, group_size=3, sampler=Sampler(2.0, generator=torch.Generator().manual_seed(0)))
    assert out["gazing_pos"].shape[0] == 6 and out["budget"].shape == (2, 4)
    counts = out["num_gazing_each_frame"]
    real = ~out["if_padded_gazing"]
    frame = torch.repeat_interleave(torch.arange(4), counts)
    for row in range(6):
        per_frame = torch.bincount(frame[real[row]], minlength=4)
        assert per_frame.tolist() == out["budget"][row // 3].tolist()  # each rollout spends its clip's budget


def test_temperature_schedule_matches_reference():
    assert temperature(0, 100) == pytest.approx(3.0)
    assert temperature(100, 100) == pytest.approx(0.3)
    assert temperature(50, 100) == pytest.approx(3 * 0.1**0.5)


@pytest.mark.parametrize(
    "labels, message",
    [
        ({"a": {"gazing_pos": [[1, 2]]}}, "must be an object with"),
        ({"a": {"gazing_pos": [[1, 2]], "task_losses": [[0.5]]}}, "one entry per gaze"),
        ({"a": {"gazing_pos": [[1], [2]], "task_losses": [[0.5], [0.4]]}}, "not a clip-global id of frame 1"),
        ({"a": {"gazing_pos": [[1, 1]], "task_losses": [[0.5, 0.4]]}}, "repeated"),
        ({"a": {"gazing_pos": [[1]], "task_losses": [["x"]]}}, "not a finite number"),
        ([1, 2], "one JSON object"),
    ],
)
def test_bad_labels_get_one_line(tmp_path, labels, message):
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(labels))
    with pytest.raises(PlaygroundError, match=message):
        read_labels(path)


def test_corrupt_labels_file(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text('{"a": ')
    with pytest.raises(PlaygroundError, match="labels file .* is not JSON"):
        read_labels(path)
    with pytest.raises(PlaygroundError, match="same number of frames"):
        collate_labels(
            [{"gazing_pos": [[1]], "task_losses": [[0.1]]}, {"gazing_pos": [[1], [266]], "task_losses": [[0.1], [0.1]]}]
        )
