"""Post-ViT token pruning: every patch through the vision encoder, then fewer tokens to the LLM.

The baselines a gaze before the ViT is compared with. The stock path runs in full (encoder and
connector, so their FLOPs and seconds are the stock ones); then, *at the level the LLM sees* (after
the connector: SmolVLM2's pixel-shuffle groups, LLaVA-OneVision's pooled tokens, Qwen3-VL's merged
tokens with their DeepStack tokens, rows of one tensor, so pruned at the same positions; Qwen3.5's merged
tokens alone), `budget`
of the M frame tokens are kept and the rest dropped. A family's trailing tokens (LLaVA-OV's newline)
are always kept and count in the budget, as in `Answer.llm_vision_tokens`.

Methods (`PRUNING_METHODS`), on the tokens of U units (frames; Qwen-VL: 2-frame tubelets), each of
n tokens in the connector's order:

- `evs` (Efficient Video Sampling, as vLLM and SGLang prune video tokens after the vision encoder):
  a token's dissimilarity is 1 - cos(x[u, i], x[u - 1, i]), its cosine similarity to the token at the
  same position i of the previous unit; the first unit's tokens rank above every other (the first
  frame kept whole when the budget allows). The `budget` most dissimilar tokens are kept (ties: the
  earlier token first). For Qwen-VL the cosine is over the merger's token (not the DeepStack ones).
- `drop-uniform`: `budget` tokens evenly spaced over the M tokens in prompt order (the floor: no look
  at the content).
- `drop-random`: `budget` tokens drawn uniformly without replacement (seeded, so repeatable).

`select_tokens` returns the (M,) keep mask; the family lays out the kept tokens for the LLM
(`Family.pruned_layout`: Qwen-VL gathers the stock M-RoPE positions of the kept tokens; SmolVLM2 and
LLaVA-OV write one run per frame of its kept count, as the gazed path does). Pruning does no matrix
product, so its FLOPs are 0 by `flops.py`'s convention; its seconds are the answer's `prune` stage.
"""

from __future__ import annotations

import torch

from ..errors import check

PRUNING_METHODS = ("evs", "drop-uniform", "drop-random")
RANDOM_SEED = 0  # drop-random's generator seed (the same draw for the same token count)


def check_method(method: str) -> str:
    """The method's name, or one line naming the methods."""
    check(method in PRUNING_METHODS, f"post-ViT pruning must be one of {', '.join(PRUNING_METHODS)}, got {method!r}")
    return method


def evs_scores(tokens: torch.Tensor, units: int) -> torch.Tensor:
    """(M, D) tokens of `units` equal units -> (M,) float32 dissimilarity to the previous unit's token at
    the same position; +inf for the first unit's tokens."""
    x = tokens.float().reshape(units, -1, tokens.shape[-1])  # (U, n, D)
    a, b = x[1:], x[:-1]
    cosine = (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(1e-12)  # elementwise: no matmul
    first = torch.full_like(x[0, :, 0], float("inf"))
    return torch.cat([first[None], 1 - cosine]).flatten()


def select_tokens(method: str, tokens: torch.Tensor, units: int, budget: int) -> torch.Tensor:
    """Which of the M frame tokens to keep.

    Args:
        method: one of PRUNING_METHODS.
        tokens: (M, D) the frame tokens the LLM would see, unit by unit (M divisible by `units`).
        units: U, frames (or tubelets) with equal token counts.
        budget: tokens to keep, 1..M (more than M keeps all).

    Returns:
        (M,) bool keep mask on the tokens' device.
    """
    check_method(method)
    M = tokens.shape[0]
    check(units >= 1 and M % units == 0, f"{M} tokens do not split into {units} equal units")
    check(budget >= 1, f"the post-ViT budget must be at least 1 token, got {budget}")
    keep = torch.zeros(M, dtype=torch.bool, device=tokens.device)
    if budget >= M:
        return keep.fill_(True)
    if method == "evs":
        order = torch.sort(evs_scores(tokens, units), descending=True, stable=True).indices
        chosen = order[:budget]
    elif method == "drop-uniform":
        chosen = ((torch.arange(budget, dtype=torch.float64) + 0.5) * M / budget).long()
    else:
        chosen = torch.randperm(M, generator=torch.Generator().manual_seed(RANDOM_SEED))[:budget]
    keep[chosen.to(tokens.device)] = True
    return keep
