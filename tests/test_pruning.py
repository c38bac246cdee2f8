"""Post-ViT token pruning (`playground.mllm.pruning`): which tokens EVS, uniform and random dropping keep.

The families' checks (the stock ViT's FLOPs, the budget, the prompt, analytic = measured FLOPs) are in
tests/test_families.py's `FamilyTesterMixin`; here, the selection rules on hand-made tokens.
"""

from __future__ import annotations

import pytest
import torch

from playground import PlaygroundError
from playground.mllm.pruning import PRUNING_METHODS, evs_scores, select_tokens


def three_frames() -> torch.Tensor:
    """(3 frames x 4 tokens, 8): frame 1 repeats frame 0 but for token 2; frame 2 repeats frame 1 but for token 0
    (a scaled copy of token 1, which a cosine does not tell from it, in token 1's place)."""
    g = torch.Generator().manual_seed(0)
    f0 = torch.randn(4, 8, generator=g)
    f1 = f0.clone()
    f1[2] = torch.randn(8, generator=g)
    f2 = f1.clone()
    f2[0] = -f1[0]
    f2[1] = 3 * f1[1]
    return torch.cat([f0, f1, f2])


def test_evs_keeps_the_first_frame_then_the_most_changed_tokens():
    tokens = three_frames()
    scores = evs_scores(tokens, 3)
    assert torch.isinf(scores[:4]).all()
    assert scores[4 + 2] > 0 and scores[8 + 0] == pytest.approx(2.0)  # opposite: 1 - (-1)
    assert scores[8 + 1].abs() < 1e-6 and scores[4 + 0].abs() < 1e-6  # scaled or unchanged: 0
    keep = select_tokens("evs", tokens, 3, 6)
    assert torch.nonzero(keep).flatten().tolist() == [0, 1, 2, 3, 6, 8]


def test_evs_under_one_frame_keeps_the_first_frame_in_order():
    assert torch.nonzero(select_tokens("evs", three_frames(), 3, 2)).flatten().tolist() == [0, 1]


def test_uniform_drop_spaces_the_kept_tokens_evenly():
    keep = select_tokens("drop-uniform", torch.randn(12, 4), 3, 4)
    assert torch.nonzero(keep).flatten().tolist() == [1, 4, 7, 10]


def test_random_drop_is_repeatable_and_keeps_the_budget():
    tokens = torch.randn(20, 4)
    a, b = select_tokens("drop-random", tokens, 4, 7), select_tokens("drop-random", tokens, 4, 7)
    assert torch.equal(a, b) and int(a.sum()) == 7


@pytest.mark.parametrize("method", PRUNING_METHODS)
def test_a_budget_over_the_tokens_keeps_all(method):
    assert select_tokens(method, torch.randn(8, 4), 2, 9).all()


def test_bad_requests_are_one_line():
    with pytest.raises(PlaygroundError, match="one of evs, drop-uniform, drop-random"):
        select_tokens("prune", torch.randn(8, 4), 2, 4)
    with pytest.raises(PlaygroundError, match="do not split into 3 equal units"):
        select_tokens("evs", torch.randn(8, 4), 3, 4)
