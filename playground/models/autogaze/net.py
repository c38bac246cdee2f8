"""`AutoGazeNet`: the whole checkpoint (`gazing_model`) plus its two halves as inference calls:
`encode` (frames -> vision tokens, the causal conv cache carried) and `decode` (new tokens through
the decoder over a `KVCache`), with `embed`, `rope` and the heads around them.

`fuse` keeps detached copies of each layer's fused weights for inference; the static (CUDA-graph)
decode steps are pooled here. The layer math itself lives in `layers`.

Shapes: B clips, T frames, P vision tokens per frame, Q tokens fed, K heads per step, S slots,
D hidden size, hd head size.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .cache import KVCache, StaticStep
from .config import AutoGazeConfig
from .layers import LayerWeights, Rope, attention, decoder_layer, llama3_inv_freq, rms_norm, rope_tables
from .modules import GazingModel


class AutoGazeNet(nn.Module):
    """The whole checkpoint (`AutoGaze` has a single child, `gazing_model`), plus fast inference."""

    def __init__(self, cfg: AutoGazeConfig):
        super().__init__()
        self.cfg = cfg
        self.gazing_model = GazingModel(cfg)
        self.register_buffer("inv_freq", llama3_inv_freq(cfg), persistent=False)
        self._fused: list[LayerWeights] | None = None
        self._static_steps: dict[tuple, StaticStep] = {}  # idle pooled steps (their graphs read `_fused`)

    # ---- weights prepared for inference ---------------------------------------------------------
    def layer_weights(self) -> list[LayerWeights]:
        """Every decoder layer's weights in the fused layout, differentiable (the training pass)."""
        return [layer.weights() for layer in self.gazing_model.gaze_decoder.model.layers]

    def fuse(self) -> "AutoGazeNet":
        """Keep detached copies of `layer_weights` for inference (q/k/v and gate/up concatenated).

        Call again after changing the weights or moving the module (the fused copies are plain
        tensors, not parameters, so the state dict keeps the checkpoint's layout).
        """
        self._fused = [LayerWeights(*(w.detach() for w in weights)) for weights in self.layer_weights()]
        self._static_steps.clear()  # captured graphs read the old copies
        return self

    # ---- pooled static decode steps (CUDA graphs are captured once and replayed by every call) ----
    STATIC_POOL = 2  # idle static steps kept (each holds a KV cache of its batch and capacity)

    def take_static_step(self, batch: int, capacity: int, device: torch.device, dtype: torch.dtype) -> StaticStep:
        """A static step and its cache for `batch` clips of up to `capacity` tokens, from the pool or new.

        Taken out of the pool until `give_static_step`, so two sessions never share one.
        """
        # A graph keeps the autocast state it was captured under: bf16 and float32 steps are apart.
        key = (batch, capacity, str(device), dtype, torch.is_autocast_enabled(torch.device(device).type))
        step = self._static_steps.pop(key, None)
        if step is None:
            step = StaticStep(self, KVCache(self.cfg, batch, capacity, device, dtype, static=True), key)
        step.cache.length = 0
        return step

    def give_static_step(self, step: StaticStep) -> None:
        """Return a step to the pool (the oldest idle one goes beyond STATIC_POOL)."""
        if step.net is not self or step.key in self._static_steps:
            return
        self._static_steps[step.key] = step
        while len(self._static_steps) > self.STATIC_POOL:
            self._static_steps.pop(next(iter(self._static_steps)))

    # ---- the two halves of the model ------------------------------------------------------------
    def encode(
        self, video: torch.Tensor, past: list[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Normalised frames (B, T, 3, H, W) -> vision tokens (B, T, P, D) and the conv caches.

        Frames that are not input_img_size square are squashed with bicubic interpolation (no
        antialias), as the reference does inside its gazer.
        """
        size = self.cfg.input_img_size
        B, T = video.shape[:2]
        if tuple(video.shape[-2:]) != (size, size):
            flat = F.interpolate(video.flatten(0, 1), size=(size, size), mode="bicubic", align_corners=False)
            video = flat.view(B, T, *flat.shape[1:])
        feats, new_past = self.gazing_model.vision_model(video, past)
        return self.gazing_model.connector(feats), new_past

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Gaze ids (B, n) -> embeddings (B, n, D)."""
        return F.embedding(ids, self.gazing_model.gaze_decoder.model.embed_tokens.weight)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Final-normed hidden (..., D) -> the K heads' gaze logits (..., K, S+1) float32."""
        logits = F.linear(hidden, self.gazing_model.gaze_decoder.lm_head.weight).float()
        return logits.view(*hidden.shape[:-1], self.cfg.num_multi_token_pred, self.cfg.vocab_size)

    def predicted_losses(self, hidden: torch.Tensor) -> torch.Tensor:
        """Final-normed hidden (..., D) -> the K task-loss heads (..., K) float32."""
        return F.linear(hidden, self.gazing_model.gaze_decoder.task_loss_prediction_head.weight).float()

    def heads(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Final-normed hidden (B, D) -> logits (B, K, S+1) and predicted losses (B, K), float32."""
        return self.logits(hidden), self.predicted_losses(hidden)

    def final_norm(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's last RMSNorm, (..., D) -> (..., D)."""
        return rms_norm(x, self.gazing_model.gaze_decoder.model.norm.weight, self.cfg.rms_norm_eps)

    def decode(
        self,
        x: torch.Tensor,
        rope: Rope,
        cache: KVCache,
        real: torch.Tensor,
        rows: list[int],
        advance: bool = True,
        static: bool = False,
    ) -> torch.Tensor:
        """Run the decoder on new tokens, appending their keys/values to the cache.

        Args:
            x: (B, Q, D) input embeddings of the new tokens.
            rope: (cos, sin) of their positions, from `rope` (B, 1, Q, head_dim).
            cache: the batch's KV cache (L tokens so far).
            real: (B, Q) bool, False for padding tokens (masked for every later query).
            rows: indices into Q whose final hidden states are wanted; the last layer only
                computes these rows (the other rows' outputs are never read).
            advance: False runs a look-ahead that leaves the cache length unchanged.
            static: fixed shapes for a CUDA graph: write at the device index `cache.start` and
                attend over the cache's whole (zero-filled) capacity, the entries not yet written
                masked. The caller advances `cache.length` (see `StaticStep`). Equal to the
                dynamic form up to float rounding.

        Returns:
            (B, len(rows), D) hidden states after the final RMSNorm.
        """
        if self._fused is None:
            self.fuse()
        Q = x.shape[1]
        if static:
            at = cache.start + cache.key_index[:Q]  # (Q,) where the new tokens go
            bias = cache.static_bias(at, real)  # (B, 1, Q, capacity)
        else:
            at = cache.append_mask(real)  # L
            bias = cache.attention_bias(Q)  # (B, 1, Q, L + Q) additive 0 / -inf
        # A run of rows is a slice: indexing by a list would copy it to the device, which a CUDA
        # graph cannot capture.
        pick = slice(rows[0], rows[-1] + 1) if rows == list(range(rows[0], rows[-1] + 1)) else rows
        last = len(self._fused) - 1
        for li, weights in enumerate(self._fused):
            # Only the wanted rows go further than the last layer's keys and values.
            only = pick if li == last and len(rows) < Q else None
            mask = bias if only is None else bias[:, :, only]

            def attend(q, k, v, li=li, mask=mask):
                keys, values = cache.store(li, k, v, at)
                return attention(q, keys, values, self.cfg, mask=mask)

            x = decoder_layer(x, weights, self.cfg, rope, attend, only)
        if advance and not static:
            cache.length = at + Q
        return self.final_norm(x)

    def rope(self, positions: torch.Tensor, dtype: torch.dtype) -> Rope:
        """(B, Q) int64 positions -> cos, sin (B, 1, Q, head_dim), computed as the reference (float32)."""
        return rope_tables(positions, self.inv_freq, dtype)
