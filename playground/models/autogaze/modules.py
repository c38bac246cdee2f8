"""AutoGaze's weight-holding modules; the module tree and parameter names follow the published
checkpoint (`nvidia/AutoGaze`), so its `model.safetensors` loads with a strict key check:

    gazing_model.vision_model   causal conv video encoder (per-frame 16x16 patches, temporal conv)
    gazing_model.connector      learned position embedding added to every frame's tokens
    gazing_model.gaze_decoder   Llama-style decoder; `lm_head` predicts K next gazes at once
                                (multi-token prediction), `task_loss_prediction_head` K losses

The encoder's modules run their own `forward`. The decoder's modules only hold its weights: the
decoder runs in `layers.decoder_layer` on the fused view `DecoderLayer.weights` returns, both in
inference (`AutoGazeNet.decode`) and in training (`training.forward`).

Shapes: B clips, T frames, C channels, h x w patches per frame, P = h * w tokens, D hidden size.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import AutoGazeConfig
from .layers import LayerWeights


class TrunkBlock(nn.Module):
    """Causal temporal conv block: left-pad time (or prepend cached frames), conv, ReLU."""

    def __init__(self, dim: int, temporal: int, spatial: int):
        super().__init__()
        self.temporal = temporal
        self.conv3d = nn.Conv3d(
            dim, dim, (temporal, spatial, spatial), padding=(0, (spatial - 1) // 2, (spatial - 1) // 2)
        )

    def forward(self, x: torch.Tensor, past: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, C, T, h, w), past (B, C, k-1, h, w) or None -> (B, C, T, h, w), new past."""
        if past is None:
            x = F.pad(x, (0, 0, 0, 0, self.temporal - 1, 0))
        else:
            x = torch.cat([past, x], dim=2)
        return F.relu(self.conv3d(x)), x[:, :, -(self.temporal - 1) :]


class VisionEncoder(nn.Module):
    """Per-frame 16x16 patch conv, LayerNorm over channels, causal conv blocks, 1x1 projection."""

    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        k = cfg.kernel_size
        self.temporal_conv = nn.Conv3d(3, cfg.vision_hidden, (1, k, k), stride=(1, k, k))
        self.norm = nn.LayerNorm(cfg.vision_hidden)
        self.blocks = nn.ModuleList(
            TrunkBlock(cfg.vision_hidden, cfg.trunk_temporal_kernel, cfg.trunk_spatial_kernel)
            for _ in range(cfg.vision_depth)
        )
        self.out_proj = nn.Conv3d(cfg.vision_hidden, cfg.vision_out, 1)

    def forward(
        self, video: torch.Tensor, past: list[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """video (B, T, 3, H, W) -> features (B, T, P, D) and the new per-block conv caches."""
        x = self.temporal_conv(video.permute(0, 2, 1, 3, 4))  # (B, C, T, h, w)
        B, C, T, h, w = x.shape
        # Same op order as the reference, so the conv kernels see identical memory layouts.
        x = x.permute(0, 2, 1, 3, 4).contiguous().view(B * T, C, h * w).permute(0, 2, 1)
        x = self.norm(x).permute(0, 2, 1).contiguous().view(B, T, C, h, w).permute(0, 2, 1, 3, 4)
        new_past = []
        for i, block in enumerate(self.blocks):
            x, cache = block(x, None if past is None else past[i])
            new_past.append(cache)
        x = self.out_proj(x)  # (B, D, T, h, w)
        return x.transpose(1, 2).flatten(3).transpose(2, 3), new_past


class Connector(nn.Module):
    """Adds a learned position embedding (P, D) to every frame's tokens."""

    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(cfg.tokens_per_frame, cfg.vision_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pos_embed[None, None]


# The decoder's modules below only hold its weights under the checkpoint's names: none of them is
# called. The decoder runs in `layers.decoder_layer` on the fused view of `DecoderLayer.weights`.


class RMSNorm(nn.Module):
    """Llama RMSNorm's weight (applied in float32 by `layers.rms_norm`)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps


class Attention(nn.Module):
    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        D, H, Hkv, hd = cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.q_proj = nn.Linear(D, H * hd, bias=False)
        self.k_proj = nn.Linear(D, Hkv * hd, bias=False)
        self.v_proj = nn.Linear(D, Hkv * hd, bias=False)
        self.o_proj = nn.Linear(H * hd, D, bias=False)


class MLP(nn.Module):
    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def weights(self) -> LayerWeights:
        """The layer's weights in the fused layout `layers.decoder_layer` reads: q/k/v and gate/up
        concatenated, so a layer runs 4 matrix products instead of 7. Differentiable: gradients
        reach the parameters (`AutoGazeNet.fuse` keeps detached copies for inference)."""
        a, m = self.self_attn, self.mlp
        return LayerWeights(
            self.input_layernorm.weight,
            torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]),
            a.o_proj.weight,
            self.post_attention_layernorm.weight,
            torch.cat([m.gate_proj.weight, m.up_proj.weight]),
            m.down_proj.weight,
        )


class LlamaBody(nn.Module):
    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class GazeDecoder(nn.Module):
    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        self.model = LlamaBody(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size * cfg.num_multi_token_pred, bias=False)
        self.task_loss_prediction_head = nn.Linear(cfg.hidden_size, cfg.num_multi_token_pred, bias=False)


class GazingModel(nn.Module):
    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        self.vision_model = VisionEncoder(cfg)
        self.connector = Connector(cfg)
        self.gaze_decoder = GazeDecoder(cfg)
