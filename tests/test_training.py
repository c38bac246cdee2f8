"""Training math: the reference's vectors (tiny set), the sampler's distribution, labels checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import FIXTURES
from playground.errors import PlaygroundError
from playground.gazers.autogaze import load_autogaze
from playground.training import Sampler, collate_labels, rollouts, temperature
from playground.training.labels import read_labels
from training_vectors import check_collate, check_grpo, check_ntp, videos

VECTORS = FIXTURES / "training"
TINY = FIXTURES / "autogaze" / "tiny_seed0"
CHI2_999 = {49: 85.35}  # 99.9 % quantile of chi-square with 49 degrees of freedom


@pytest.fixture(scope="module")
def tiny(device):
    return load_autogaze(str(TINY), device=device)


def test_collate_matches_reference():
    check_collate(VECTORS)


def test_ntp_matches_reference(device):
    check_ntp(VECTORS, TINY, device)


def test_grpo_matches_reference(device):
    check_grpo(VECTORS, TINY, device)


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
    tokens, early = sampler(np.repeat(logits, draws, 0), used, left=K, K=K)
    assert tokens.shape == (draws, K) and not early
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
    assert temperature(50, 100) == pytest.approx(3 * 0.1 ** 0.5)


@pytest.mark.parametrize("labels, message", [
    ({"a": {"gazing_pos": [[1, 2]]}}, "must be an object with"),
    ({"a": {"gazing_pos": [[1, 2]], "task_losses": [[0.5]]}}, "one entry per gaze"),
    ({"a": {"gazing_pos": [[1], [2]], "task_losses": [[0.5], [0.4]]}}, "not a clip-global id of frame 1"),
    ({"a": {"gazing_pos": [[1, 1]], "task_losses": [[0.5, 0.4]]}}, "repeated"),
    ({"a": {"gazing_pos": [[1]], "task_losses": [["x"]]}}, "not a finite number"),
    ([1, 2], "one JSON object"),
])
def test_bad_labels_get_one_line(tmp_path, labels, message):
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(labels))
    with pytest.raises(PlaygroundError, match=message):
        read_labels(path)


def test_corrupt_labels_file(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text('{"a": ')
    with pytest.raises(PlaygroundError, match="cannot read labels file"):
        read_labels(path)
    with pytest.raises(PlaygroundError, match="same number of frames"):
        collate_labels([{"gazing_pos": [[1]], "task_losses": [[0.1]]},
                        {"gazing_pos": [[1], [266]], "task_losses": [[0.1], [0.1]]}])
