"""AutoGaze's teacher-forced pass: the whole gaze sequence of a clip in one differentiable forward.

Training (NTP and GRPO) scores given gaze sequences instead of decoding them. The sequence is the
one of inference (AUTOGAZE_SPEC.md § 3.5 and § 6.2): `[V_0, G_0, V_1, G_1, ...]`, the P vision
tokens of each frame followed by the frame's gaze tokens (frame-local ids, pads fed as EOS). Pads
are masked as keys for every query (attention mask 0) and repeat the previous position
(`cumsum - 1`); unlike inference, every token has its proper position (no stale ones).

Each layer is the inference's `models.autogaze.layers.decoder_layer`, run on the differentiable
fused view of the weights (`AutoGazeNet.layer_weights`, not the detached inference copies), so
gradients reach every parameter of the checkpoint.

Shapes: B clips, T frames, P vision tokens per frame, N gaze entries of the clip (pads included),
L = T * P + N tokens, K heads per step, V = S + 1 ids, D hidden size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ..models.autogaze import AutoGazeNet
from ..models.autogaze.layers import attention, decoder_layer

PROB_EPS = 1e-8  # the reference's log(p + 1e-8)


@dataclass
class TeacherForced:
    """What the teacher-forced pass scores for each gaze entry."""

    log_action_probs: torch.Tensor  # (B, N) float32 log(p + 1e-8) of the fed id under its head
    task_loss_prediction: torch.Tensor  # (B, N) float32 predicted frame loss once the entry is added


@dataclass(frozen=True)
class SequenceLayout:
    """Where each gaze entry sits in the token sequence, and which token scores it.

    All clips of a batch share the layout: each frame's gaze count is the batch's.
    """

    frame: torch.Tensor  # (N,) int64 frame of each entry
    token: torch.Tensor  # (N,) int64 sequence index of each entry's own token
    source: torch.Tensor  # (N,) int64 index of the token whose heads predict the entry
    head: torch.Tensor  # (N,) int64 head m = j % K (j counted from the frame's first entry)
    loss_token: torch.Tensor  # (N,) int64 token read for the entry's predicted loss
    loss_head: torch.Tensor  # (N,) int64 head of that prediction, (m + 1) % K
    vision: torch.Tensor  # (T * P,) int64 sequence indices of the vision tokens
    length: int  # L


def sequence_layout(
    num_gazing_each_frame: torch.Tensor, tokens_per_frame: int, K: int, device: torch.device | str = "cpu"
) -> SequenceLayout:
    """The layout of `[V_0, G_0, V_1, G_1, ...]` for per-frame gaze counts (T,), on `device`."""
    counts = [int(n) for n in num_gazing_each_frame.tolist()]
    P = tokens_per_frame
    frame, token, source, head, vision = [], [], [], [], []
    start = 0
    for t, n in enumerate(counts):
        vision.append(torch.arange(start, start + P))
        first = start + P  # the frame's first gaze token
        j = torch.arange(n)
        step = torch.div(j, K, rounding_mode="floor")
        # Step 0 is predicted from the frame's last vision token, step s from the step before's last token.
        source.append(torch.where(step == 0, first - 1, first + step * K - 1))
        token.append(first + j)
        head.append(j % K)
        frame.append(torch.full((n,), t))
        start = first + n
    source_t, token_t, head_t = torch.cat(source), torch.cat(token), torch.cat(head)
    loss_head = (head_t + 1) % K
    # Head m + 1 at the source is the loss after entry m; the step's last entry reads head 0 at itself.
    loss_token = torch.where(loss_head == 0, token_t, source_t)
    parts = (torch.cat(frame), token_t, source_t, head_t, loss_token, loss_head, torch.cat(vision))
    return SequenceLayout(*(part.to(device) for part in parts), start)


def teacher_forced(
    net: AutoGazeNet,
    video: torch.Tensor,
    gazing_pos: torch.Tensor,
    if_padded_gazing: torch.Tensor,
    num_gazing_each_frame: torch.Tensor,
) -> TeacherForced:
    """Score given gaze sequences (the reference's `AutoGazeModel.forward(video, gazing_info)`).

    Args:
        net: the model; its parameters receive gradients.
        video: (B, T, 3, H, W) normalised frames (the preprocessor's output).
        gazing_pos: (B, N) int64 clip-global ids (`S * t + local id`); pads may hold anything.
        if_padded_gazing: (B, N) bool, True for padding.
        num_gazing_each_frame: (T,) int64 entries of each frame (pads included); sums to N.

    Returns:
        `TeacherForced` with (B, N) float32 tensors.
    """
    cfg = net.cfg
    S, K, P = cfg.num_slots, cfg.num_multi_token_pred, cfg.tokens_per_frame
    device = video.device
    layout = sequence_layout(num_gazing_each_frame, P, K, device)
    B, T = video.shape[:2]
    pad = if_padded_gazing.to(device=device, dtype=torch.bool)
    local = torch.where(pad, torch.full_like(gazing_pos, S), gazing_pos.to(device) - S * layout.frame[None])
    feats, _ = net.encode(video)  # (B, T, P, D)
    x = feats.new_zeros(B, layout.length, feats.shape[-1])
    x[:, layout.vision] = feats.flatten(1, 2)
    x[:, layout.token] = net.embed(local).to(x.dtype)
    real = torch.ones(B, layout.length, dtype=torch.bool, device=device)
    real[:, layout.token] = ~pad
    hidden = decoder(net, x, real.cumsum(1) - 1, real)  # (B, L, D)
    probs = net.logits(hidden[:, layout.source]).softmax(-1)  # (B, N, K, V)
    rows = torch.arange(layout.source.shape[0], device=device)
    fed = probs[:, rows, layout.head].gather(-1, local[..., None])[..., 0]  # (B, N)
    predicted = net.predicted_losses(hidden[:, layout.loss_token])[:, rows, layout.loss_head]
    return TeacherForced(torch.log(fed + PROB_EPS), predicted)


class TeacherForcedModule(nn.Module):
    """`teacher_forced` as a module's forward: what DistributedDataParallel wraps for training."""

    def __init__(self, net: AutoGazeNet):
        super().__init__()
        self.net = net

    def forward(
        self,
        video: torch.Tensor,
        gazing_pos: torch.Tensor,
        if_padded_gazing: torch.Tensor,
        num_gazing_each_frame: torch.Tensor,
    ) -> TeacherForced:
        return teacher_forced(self.net, video, gazing_pos, if_padded_gazing, num_gazing_each_frame)


def decoder(net: AutoGazeNet, x: torch.Tensor, positions: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """The Llama decoder over a whole sequence, causal in sequence order, pads hidden as keys.

    Equal to one masked causal attention over the sequence, computed in two streams because no
    query ever sees a pad's key: the real tokens of each row, moved to the front in order, run
    with a plain causal mask (the fast kernel); each pad then only queries the real keys before it.

    Args:
        x: (B, L, D) input embeddings.
        positions: (B, L) int64 rotary positions.
        real: (B, L) bool, False for padding tokens.

    Returns:
        (B, L, D) hidden states after the final RMSNorm.
    """
    B, L, D = x.shape
    n_real = real.sum(1)  # (B,)
    Lr, Np = int(n_real.max()), int((L - n_real).max())
    order = torch.argsort((~real).to(torch.int8), dim=1, stable=True)  # each row's real tokens first, in order
    main = x.gather(1, order[:, :Lr, None].expand(-1, -1, D))
    main_pos = positions.gather(1, order[:, :Lr])
    # Pad i of row b is order[b, n_real[b] + i]; rows with fewer pads repeat their last token (unused).
    pad_rank = torch.arange(Np, device=x.device)[None] + n_real[:, None]
    pad_idx = order.gather(1, pad_rank.clamp(max=L - 1))
    pads = x.gather(1, pad_idx[..., None].expand(-1, -1, D))
    pad_pos = positions.gather(1, pad_idx)
    before = (real.cumsum(1) - real.long()).gather(1, pad_idx)  # real tokens before each pad
    pad_mask = torch.arange(Lr, device=x.device)[None, None] < before[..., None].clamp(min=1)
    main, pads = _layers(net, main, main_pos, pads, pad_pos, pad_mask[:, None])
    # Back to sequence order: a real token is its rank among reals, a pad Lr + its rank among pads.
    where = torch.where(real, real.cumsum(1) - 1, Lr + (~real).cumsum(1) - 1)
    both = torch.cat([main, pads], 1)
    return both.gather(1, where[..., None].expand(-1, -1, D))


def _layers(
    net: AutoGazeNet,
    x: torch.Tensor,
    positions: torch.Tensor,
    pads: torch.Tensor,
    pad_positions: torch.Tensor,
    pad_mask: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the decoder layers on the real stream (B, Lr, D), causal, and the pad stream (B, Np, D).

    `pad_mask` (B, 1, Np, Lr) bool says which real keys each pad sees; pads are only queries.
    """
    cfg = net.cfg
    rope, pad_rope = net.rope(positions, x.dtype), net.rope(pad_positions, x.dtype)
    for weights in net.layer_weights():
        seen = []  # this layer's keys and values of the real stream, which the pads query

        def causal(q, k, v):
            seen[:] = k, v
            return attention(q, k, v, cfg, causal=True)

        x = decoder_layer(x, weights, cfg, rope, causal)
        if pads.shape[1]:
            pads = decoder_layer(
                pads, weights, cfg, pad_rope, lambda q, _k, _v: attention(q, *seen, cfg, mask=pad_mask), keys=False
            )
    return net.final_norm(x), net.final_norm(pads)
