"""VideoMAE_AutoGaze in plain PyTorch: the reconstructor AutoGaze was trained against.

A ViT-MAE that encodes only the gazed multi-scale patches of a clip (with per-scale and per-frame
embeddings and block-causal attention: a token sees its own frame and earlier ones) and decodes
every patch of the frames to rebuild. The frozen loss backbones (DINOv2-with-registers and the
SigLIP2 vision tower) are submodules, as in the published `videomae.pt`, so one state dict holds
everything. Module and parameter names follow that file (minus its `module.mae.` prefix).

Semantics follow AUTOGAZE_SPEC.md section 2.3, including the reference's quirks (the CLS row and
column of the attention mask, padded columns hidden, the diagonal forced for all but the last
token, the decoder position embedding resampled in 1-D). Letters in shapes: B batch, T frames,
S slots per frame, N gazed entries, R frames to rebuild, D width, C canvas side.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

LOSS_TERMS = ("l1", "dinov2_reg", "siglip2")  # the reference's loss_type names
ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}
# The reference task transform: ((x / 127.5 - 1) - mean) / std, undone before the loss backbones.
TASK_MEAN, TASK_STD, TASK_RESCALE = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 1 / 127.5
DINOV2_MEAN, DINOV2_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SIGLIP_MEAN, SIGLIP_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
MAX_LAYERS = 1024  # far above any ViT; a bad config must not build millions of modules, even on the meta device


# ---- configs -----------------------------------------------------------------------------------
class ConfigError(ValueError):
    """An architecture config that cannot describe a VideoMAE_AutoGaze (one line)."""


@dataclass
class MAEConfig:
    """ViT-MAE sizes; defaults are facebook/vit-mae-large plus the AutoGaze extras (spec 2.2)."""

    hidden_size: int = 1024
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    intermediate_size: int = 4096
    decoder_hidden_size: int = 512
    decoder_num_hidden_layers: int = 8
    decoder_num_attention_heads: int = 16
    decoder_intermediate_size: int = 2048
    patch_size: int = 16
    image_size: int = 224
    num_channels: int = 3
    qkv_bias: bool = True
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-12
    scales: str = "32+64+112+224"
    scale_embed: bool = True
    time_embed: bool = True
    max_num_frames: int = 256
    causal: bool = True
    loss_type: str = "l1+dinov2_reg+siglip2"
    loss_weights: str = "1+0.3+0.3"

    @property
    def scale_list(self) -> list[int]:
        return sorted(int(s) for s in str(self.scales).replace(",", "+").split("+") if s.strip())

    @property
    def loss_list(self) -> list[str]:
        return [s.strip() for s in str(self.loss_type).split("+") if s.strip()]

    @property
    def weight_list(self) -> list[float]:
        return [float(w) for w in str(self.loss_weights).split("+") if w.strip()]


@dataclass
class Dinov2RegConfig:
    """DINOv2-with-registers sizes; defaults are facebook/dinov2-with-registers-base."""

    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    mlp_ratio: int = 4
    patch_size: int = 14
    image_size: int = 518
    num_register_tokens: int = 4
    num_channels: int = 3
    qkv_bias: bool = True
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-6
    use_swiglu_ffn: bool = False


@dataclass
class SiglipVisionConfig:
    """SigLIP vision tower sizes; defaults are google/siglip2-base-patch16-224."""

    hidden_size: int = 768
    intermediate_size: int = 3072
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    image_size: int = 224
    patch_size: int = 16
    num_channels: int = 3
    hidden_act: str = "gelu_pytorch_tanh"
    layer_norm_eps: float = 1e-6


@dataclass
class VideoMAEConfig:
    """The three configs of a VideoMAE_AutoGaze (the form of config_and_results.json)."""

    mae: MAEConfig = field(default_factory=MAEConfig)
    dinov2: Dinov2RegConfig = field(default_factory=Dinov2RegConfig)
    siglip: SiglipVisionConfig = field(default_factory=SiglipVisionConfig)

    SECTIONS = {"vit_mae_config": "mae", "dinov2_with_registers_config": "dinov2", "siglip_vision_config": "siglip"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VideoMAEConfig":
        """Build from {"vit_mae_config": {...}, "dinov2_with_registers_config": {...}, "siglip_vision_config": {...}}.

        Missing sections and fields keep the published (large) defaults; fields the playground does
        not use (e.g. dropout rates) are ignored.
        """
        if not isinstance(data, dict) or not set(cls.SECTIONS) & set(data):
            raise ConfigError(f"a VideoMAE config needs at least one of {sorted(cls.SECTIONS)}")
        config = cls()
        for section, attr in cls.SECTIONS.items():
            values = data.get(section) or {}
            if not isinstance(values, dict):
                raise ConfigError(f"{section} must be a dict, got {type(values).__name__}")
            target = getattr(config, attr)
            for f in fields(target):
                if f.name in values and values[f.name] is not None:
                    setattr(target, f.name, type(getattr(target, f.name))(values[f.name]))
        config.validate()
        return config

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {
            section: {f.name: getattr(getattr(self, attr), f.name) for f in fields(getattr(self, attr))}
            for section, attr in self.SECTIONS.items()
        }

    def validate(self) -> None:
        m = self.mae
        for name, cfg in (("vit_mae", m), ("dinov2", self.dinov2), ("siglip", self.siglip)):
            for f in fields(cfg):  # sizes first: the checks below divide by them, and modules are built from them
                value = getattr(cfg, f.name)
                least = 0 if f.name == "num_register_tokens" else 1
                if type(value) is int and value < least:
                    raise ConfigError(f"{name} {f.name} must be at least {least}, got {value}")
                if f.name.endswith("num_hidden_layers") and value > MAX_LAYERS:
                    raise ConfigError(
                        f"{name} {f.name} is {value}: more than the {MAX_LAYERS} layers any "
                        f"VideoMAE_AutoGaze tower could have"
                    )
        terms = m.loss_list
        if not terms or any(t not in LOSS_TERMS for t in terms):
            raise ConfigError(f"loss_type {m.loss_type!r}: terms must be among {'+'.join(LOSS_TERMS)}")
        if len(m.weight_list) != len(terms):
            raise ConfigError(f"loss_weights {m.loss_weights!r} must give one weight per term of {m.loss_type!r}")
        if not m.causal:
            raise ConfigError("causal: false is not supported (the reference crashes on it too)")
        for s in m.scale_list:
            if s <= 0 or s % m.patch_size:
                raise ConfigError(f"scale {s} is not a positive multiple of the patch size {m.patch_size}")
        for name, cfg in (("vit_mae", m), ("dinov2", self.dinov2), ("siglip", self.siglip)):
            if cfg.hidden_act not in ACTIVATIONS:
                raise ConfigError(f"{name} hidden_act {cfg.hidden_act!r} is not one of {sorted(ACTIVATIONS)}")
            if cfg.hidden_size % cfg.num_attention_heads:
                raise ConfigError(f"{name} hidden_size {cfg.hidden_size} is not a multiple of its heads")
        if m.decoder_hidden_size % m.decoder_num_attention_heads:
            raise ConfigError("decoder_hidden_size is not a multiple of decoder_num_attention_heads")
        if self.dinov2.use_swiglu_ffn:
            raise ConfigError("DINOv2 with a SwiGLU feed-forward is not supported")


# ---- shared blocks -----------------------------------------------------------------------------
def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Multi-head scaled dot-product attention.

    Args:
        q: (B, Lq, D) and k, v: (B, Lk, D) projections.
        heads: number of heads (D must be a multiple).
        mask: (B, 1, Lq, Lk) bool, True where a query may attend a key, or None.

    Returns:
        (B, Lq, D) attention output before the output projection.
    """
    B, Lq, D = q.shape
    split = lambda x: x.unflatten(-1, (heads, D // heads)).transpose(1, 2)  # noqa: E731
    out = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=mask)
    return out.transpose(1, 2).reshape(B, Lq, D)


class _Linear(nn.Module):
    """A module holding one `dense` linear layer (the HF ViT naming: `intermediate.dense`)."""

    def __init__(self, d_in: int, d_out: int, bias: bool = True):
        super().__init__()
        self.dense = nn.Linear(d_in, d_out, bias=bias)


class _QKV(nn.Module):
    def __init__(self, dim: int, bias: bool):
        super().__init__()
        self.query = nn.Linear(dim, dim, bias=bias)
        self.key = nn.Linear(dim, dim, bias=bias)
        self.value = nn.Linear(dim, dim, bias=bias)


class ViTAttention(nn.Module):
    """HF ViT attention naming: `attention.{query,key,value}` and `output.dense`."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool = True):
        super().__init__()
        self.heads = heads
        self.attention = _QKV(dim, qkv_bias)
        self.output = _Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        a = self.attention
        return self.output.dense(attend(a.query(x), a.key(x), a.value(x), self.heads, mask))


class MAELayer(nn.Module):
    """One pre-LN ViT-MAE block (`layernorm_before`, attention, `layernorm_after`, MLP)."""

    def __init__(self, dim: int, heads: int, mlp: int, act: str, eps: float, qkv_bias: bool = True):
        super().__init__()
        self.attention = ViTAttention(dim, heads, qkv_bias)
        self.intermediate = _Linear(dim, mlp)
        self.output = _Linear(mlp, dim)
        self.layernorm_before = nn.LayerNorm(dim, eps=eps)
        self.layernorm_after = nn.LayerNorm(dim, eps=eps)
        self.act = ACTIVATIONS[act]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.attention(self.layernorm_before(x), mask) + x
        return self.feed_forward(x)

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's second half (after the attention residual)."""
        return self.output.dense(self.act(self.intermediate.dense(self.layernorm_after(x)))) + x

    def qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Query, key and value of the normalised input, each (..., L, D)."""
        y = self.layernorm_before(x)
        a = self.attention.attention
        return a.query(y), a.key(y), a.value(y)


def block_causal_mask(counts: Sequence[int], padded: torch.Tensor) -> torch.Tensor:
    """The reference's encoder/decoder attention mask, CLS first.

    A token attends the CLS, the tokens of its own frame and of earlier frames, minus padded
    entries; the CLS attends only itself. As in the reference the diagonal is then forced for
    positions 0..N-1 of the (N+1)-long sequence, so a padded last token does not see itself.

    Args:
        counts: (T,) entries per frame, padding included.
        padded: (B, N) bool, True for padded entries.

    Returns:
        (B, 1, N+1, N+1) bool, True where attention is allowed.
    """
    B, N = padded.shape
    device = padded.device
    frame = torch.repeat_interleave(
        torch.arange(len(counts), device=device), torch.as_tensor(list(counts), dtype=torch.long, device=device)
    )
    allowed = (frame[None, :] <= frame[:, None])[None] & ~padded[:, None, :]  # (B, N, N)
    mask = torch.zeros(B, N + 1, N + 1, dtype=torch.bool, device=device)
    mask[:, :, 0] = True
    mask[:, 1:, 1:] = allowed
    diag = torch.arange(N, device=device)
    mask[:, diag, diag] = True
    return mask[:, None]


def resize_pos_2d(pos: torch.Tensor, side: int, antialias: bool = False) -> torch.Tensor:
    """(1, n*n, D) grid position embedding -> (1, side*side, D), bicubic, align_corners=False."""
    n = int(round(pos.shape[1] ** 0.5))
    if n == side:
        return pos
    grid = pos.reshape(1, n, n, -1).permute(0, 3, 1, 2)
    out = F.interpolate(grid.float(), size=(side, side), mode="bicubic", align_corners=False, antialias=antialias)
    return out.to(pos.dtype).permute(0, 2, 3, 1).reshape(1, side * side, -1)


def resize_pos_1d(pos: torch.Tensor, length: int) -> torch.Tensor:
    """(1, L, D) -> (1, length, D): the decoder's bicubic resampling of the *flattened* grid (a quirk)."""
    if pos.shape[1] == length:
        return pos
    line = pos.reshape(1, 1, pos.shape[1], -1).permute(0, 3, 1, 2)  # (1, D, 1, L)
    out = F.interpolate(line, size=(1, length), mode="bicubic", align_corners=False)
    return out.permute(0, 2, 3, 1).reshape(1, length, -1)


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(..., 3, H, W) -> (..., H/p * W/p, p*p*3) in the reference's (p, q, c) order."""
    *lead, c, h, w = images.shape
    x = images.reshape(*lead, c, h // patch, patch, w // patch, patch)
    x = x.movedim(-5, -1)  # (..., h, p, w, q, c)
    x = x.transpose(-4, -3)  # (..., h, w, p, q, c)
    return x.reshape(*lead, (h // patch) * (w // patch), patch * patch * c)


def unpatchify(logits: torch.Tensor, patch: int, channels: int = 3) -> torch.Tensor:
    """(..., n*n, p*p*c) in (p, q, c) order -> (..., c, n*p, n*p) (the reference's nhwpqc layout)."""
    *lead, count, _ = logits.shape
    n = int(round(count**0.5))
    x = logits.reshape(*lead, n, n, patch, patch, channels)  # (..., h, w, p, q, c)
    x = x.movedim(-1, -5)  # (..., c, h, w, p, q)
    x = x.transpose(-3, -2)  # (..., c, h, p, w, q)
    return x.reshape(*lead, channels, n * patch, n * patch)


# ---- the MAE -----------------------------------------------------------------------------------
class _PatchEmbed(nn.Module):
    def __init__(self, channels: int, dim: int, patch: int):
        super().__init__()
        self.projection = nn.Conv2d(channels, dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, c, H, W) -> (B, H/p * W/p, D) in raster order."""
        return self.projection(x).flatten(2).transpose(1, 2)


class MAEEmbeddings(nn.Module):
    """Multi-scale patch tokens of every frame, with position, scale and time embeddings."""

    def __init__(self, cfg: MAEConfig):
        super().__init__()
        grid = cfg.image_size // cfg.patch_size
        self.cfg = cfg
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.hidden_size))
        self.position_embeddings = nn.Parameter(torch.zeros(1, grid * grid + 1, cfg.hidden_size))
        if cfg.scale_embed:
            self.scale_embed = nn.Parameter(torch.zeros(len(cfg.scale_list), cfg.hidden_size))
        if cfg.time_embed:
            self.time_embed = nn.Parameter(torch.zeros(cfg.max_num_frames, cfg.hidden_size))
        self.patch_embeddings = _PatchEmbed(cfg.num_channels, cfg.hidden_size, cfg.patch_size)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, C, C) task-normalised frames -> (B, T*S, D) tokens of every slot."""
        B, T = pixels.shape[:2]
        frames = pixels.flatten(0, 1)
        per_scale = []
        for i, scale in enumerate(self.cfg.scale_list):
            x = frames
            if x.shape[-1] != scale or x.shape[-2] != scale:  # bicubic with scale 1 is the identity
                x = F.interpolate(x, size=(scale, scale), mode="bicubic", align_corners=False)
            tokens = self.patch_embeddings(x)
            tokens = tokens + resize_pos_2d(self.position_embeddings[:, 1:], scale // self.cfg.patch_size)
            if self.cfg.scale_embed:
                tokens = tokens + self.scale_embed[i][None, None]
            per_scale.append(tokens)
        tokens = torch.cat(per_scale, dim=1).unflatten(0, (B, T))  # (B, T, S, D)
        if self.cfg.time_embed:
            tokens = tokens + self.time_embed[None, :T, None, :]
        return tokens.flatten(1, 2)

    def cls(self) -> torch.Tensor:
        """(1, 1, D) the CLS token with its position embedding."""
        return self.cls_token + self.position_embeddings[:, :1]


class _LayerList(nn.Module):
    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layer = nn.ModuleList(layers)


class MAEEncoder(nn.Module):
    """`vit`: embeddings, 24 (large) pre-LN layers, final LayerNorm."""

    def __init__(self, cfg: MAEConfig):
        super().__init__()
        self.embeddings = MAEEmbeddings(cfg)
        self.encoder = _LayerList(
            [
                MAELayer(
                    cfg.hidden_size,
                    cfg.num_attention_heads,
                    cfg.intermediate_size,
                    cfg.hidden_act,
                    cfg.layer_norm_eps,
                    cfg.qkv_bias,
                )
                for _ in range(cfg.num_hidden_layers)
            ]
        )
        self.layernorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(
        self, tokens: torch.Tensor, gazing_pos: torch.Tensor, padded: torch.Tensor, counts: Sequence[int]
    ) -> torch.Tensor:
        """Encode the gazed tokens.

        Args:
            tokens: (B, T*S, D) from `embeddings` (B may be 1 and broadcast to the gaze's batch).
            gazing_pos: (B, N) int64 clip-local slot ids (S*t + local).
            padded: (B, N) bool padding flags.
            counts: (T,) entries per frame.

        Returns:
            (B, N+1, D) CLS then the encoded gazed tokens.
        """
        B = gazing_pos.shape[0]
        L = tokens.shape[1]
        tokens = tokens.expand(B, -1, -1)
        # Padded entries gather a dummy: a copy of token 0, appended at index L.
        seq = torch.cat([tokens, tokens[:, :1]], dim=1)
        idx = torch.where(padded, torch.full_like(gazing_pos, L), gazing_pos)
        x = seq.gather(1, idx[..., None].expand(-1, -1, seq.shape[-1]))
        x = torch.cat([self.embeddings.cls().expand(B, -1, -1).to(x.dtype), x], dim=1)
        mask = block_causal_mask(counts, padded)
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return self.layernorm(x)


class MAEDecoder(nn.Module):
    """`decoder`: mask tokens for the unseen slots, then decode the frames to rebuild."""

    def __init__(self, cfg: MAEConfig):
        super().__init__()
        grid = cfg.image_size // cfg.patch_size
        d = cfg.decoder_hidden_size
        self.cfg = cfg
        self.decoder_embed = nn.Linear(cfg.hidden_size, d)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, d))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, d))
        if cfg.scale_embed:
            self.decoder_scale_embed = nn.Parameter(torch.zeros(len(cfg.scale_list), d))
        if cfg.time_embed:
            self.time_embed = nn.Parameter(torch.zeros(cfg.max_num_frames, d))
        self.decoder_layers = nn.ModuleList(
            [
                MAELayer(
                    d,
                    cfg.decoder_num_attention_heads,
                    cfg.decoder_intermediate_size,
                    cfg.hidden_act,
                    cfg.layer_norm_eps,
                    cfg.qkv_bias,
                )
                for _ in range(cfg.decoder_num_hidden_layers)
            ]
        )
        self.decoder_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.decoder_pred = nn.Linear(d, cfg.patch_size**2 * cfg.num_channels)
        self.slot_counts = [(s // cfg.patch_size) ** 2 for s in cfg.scale_list]

    def slot_embeddings(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(S, d) position + scale embedding of every slot of a frame."""
        pos, scale = [], []
        for i, n in enumerate(self.slot_counts):
            pos.append(resize_pos_1d(self.decoder_pos_embed[:, 1:], n)[0])
            if self.cfg.scale_embed:
                scale.append(self.decoder_scale_embed[i][None].expand(n, -1))
        return torch.cat(pos), (torch.cat(scale) if scale else None)

    def slot_sequence(
        self, latent: torch.Tensor, gazing_pos: torch.Tensor, padded: torch.Tensor, T: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The decoder's input before choosing what to decode.

        Returns:
            cls (B, 1, d) with its position embedding; `full` (B, T*S + 1, d): every slot (gazed
            tokens scattered into mask tokens) with position, scale and time embeddings, plus a
            copy of slot 0 at the end as the pads' dummy; `idx` (B, N) the gaze's index into `full`.
        """
        B, S = latent.shape[0], self.slots_per_frame
        L = T * S
        x = self.decoder_embed(latent)
        cls, gazed = x[:, :1], x[:, 1:]
        idx = torch.where(padded, torch.full_like(gazing_pos, L), gazing_pos)
        # Scatter the gazed tokens into a sequence of mask tokens; pads land on a dropped extra slot.
        full = self.mask_token.to(x.dtype).expand(B, L + 1, -1).clone()
        full.scatter_(1, idx[..., None].expand(-1, -1, x.shape[-1]), gazed)
        full = full[:, :-1].unflatten(1, (T, S))
        pos, scale = self.slot_embeddings()
        full = full + pos
        if scale is not None:
            full = full + scale
        if self.cfg.time_embed:
            full = full + self.time_embed[None, :T, None, :]
        full = full.flatten(1, 2)
        cls = cls + self.decoder_pos_embed[:, :1]
        return cls, torch.cat([full, full[:, :1]], dim=1), idx

    @property
    def slots_per_frame(self) -> int:
        return sum(self.slot_counts)

    def predict(self, h: torch.Tensor) -> torch.Tensor:
        """(..., d) decoder states -> (..., p*p*3) pixel logits."""
        return self.decoder_pred(self.decoder_norm(h))

    def forward(
        self,
        latent: torch.Tensor,
        gazing_pos: torch.Tensor,
        padded: torch.Tensor,
        counts: Sequence[int],
        frames: Sequence[int],
    ) -> torch.Tensor:
        """Decode every slot of `frames` in one pass (the reference's `frame_idx_to_reconstruct`).

        Args:
            latent: (B, N+1, D) encoder output (CLS first).
            gazing_pos, padded, counts: the gaze, as for the encoder.
            frames: (R,) clip-local indices of the frames to rebuild, distinct.

        Returns:
            (B, R, n_last, p*p*3) predictions of the finest scale's patches, in `frames` order.
        """
        B, T, S = latent.shape[0], len(counts), self.slots_per_frame
        cls, full, idx = self.slot_sequence(latent, gazing_pos, padded, T)
        # Rebuilt frames feed all their slots; other frames only their gazed tokens (pads: slot 0).
        rebuild = set(int(f) for f in frames)
        starts = [0]
        for c in counts:
            starts.append(starts[-1] + int(c))
        pick, pad_parts, decoded = [], [], []
        for t in range(T):
            if t in rebuild:
                pick.append(torch.arange(S, device=idx.device).expand(B, -1) + S * t)
                pad_parts.append(torch.zeros(B, S, dtype=torch.bool, device=idx.device))
                decoded.append(S)
            else:
                pick.append(idx[:, starts[t] : starts[t + 1]])
                pad_parts.append(padded[:, starts[t] : starts[t + 1]])
                decoded.append(int(counts[t]))
        pick_idx = torch.cat(pick, dim=1)
        h = full.gather(1, pick_idx[..., None].expand(-1, -1, full.shape[-1]))
        h = torch.cat([cls, h], dim=1)
        mask = block_causal_mask(decoded, torch.cat(pad_parts, dim=1))
        for layer in self.decoder_layers:
            h = layer(h, mask)
        # Only the finest scale of the rebuilt frames is kept: normalise and project just those.
        offsets = [1]
        for n in decoded:
            offsets.append(offsets[-1] + n)
        last = self.slot_counts[-1]
        keep = torch.cat([torch.arange(offsets[f + 1] - last, offsets[f + 1], device=h.device) for f in frames])
        return self.predict(h[:, keep]).unflatten(1, (len(frames), last))

    def forward_separate(
        self,
        latent: torch.Tensor,
        gazing_pos: torch.Tensor,
        padded: torch.Tensor,
        counts: Sequence[int],
        frames: Sequence[int],
    ) -> torch.Tensor:
        """Decode each of `frames` as if it alone were rebuilt, sharing the work between frames.

        In the pass that rebuilds frame f alone, the earlier frames feed only their gazed tokens,
        and block-causal attention makes their states the same in every such pass. So the gazed
        tokens are decoded once (the shared prefix), and the S slots of every rebuilt frame are
        decoded as a batch of queries that attend the CLS, the prefix entries of earlier frames
        and their own frame's slots. Same numbers as one reference pass per frame.

        Args and Returns: as `forward`.
        """
        B, T, S = latent.shape[0], len(counts), self.slots_per_frame
        R = len(frames)
        cls, full, idx = self.slot_sequence(latent, gazing_pos, padded, T)
        ends = [0]
        for c in counts:
            ends.append(ends[-1] + int(c))
        n_prefix = ends[max(frames)]  # entries of frames before the last frame to rebuild
        prefix = torch.cat([cls, full.gather(1, idx[:, :n_prefix, None].expand(-1, -1, full.shape[-1]))], dim=1)
        prefix_pad = padded[:, :n_prefix]
        prefix_mask = block_causal_mask(counts[: max(frames)], prefix_pad)
        # Frame r's queries see the CLS, the non-padded entries of frames < f_r, and their own S slots.
        rows = torch.arange(S, device=idx.device)
        slots = torch.stack([rows + S * int(f) for f in frames])  # (R, S)
        h = full[:, slots.flatten()].reshape(B * R, S, -1)
        key_pos = torch.arange(1 + n_prefix, device=idx.device)
        before = key_pos[None] < 1 + torch.tensor([ends[int(f)] for f in frames], device=idx.device)[:, None]
        visible = (
            before[None]
            & torch.cat([torch.zeros(B, 1, dtype=torch.bool, device=idx.device), prefix_pad], dim=1)[
                :, None
            ].logical_not()
        )  # (B, R, 1 + n_prefix)
        frame_mask = torch.cat([visible, torch.ones(B, R, S, dtype=torch.bool, device=idx.device)], dim=-1)
        frame_mask = frame_mask.reshape(B * R, 1, 1, -1).expand(-1, -1, S, -1)
        for layer in self.decoder_layers:
            qp, kp, vp = layer.qkv(prefix)
            qf, kf, vf = layer.qkv(h)
            heads = layer.attention.heads
            keys = torch.cat([kp.repeat_interleave(R, dim=0), kf], dim=1)
            values = torch.cat([vp.repeat_interleave(R, dim=0), vf], dim=1)
            h = layer.feed_forward(layer.attention.output.dense(attend(qf, keys, values, heads, frame_mask)) + h)
            prefix = layer.feed_forward(layer.attention.output.dense(attend(qp, kp, vp, heads, prefix_mask)) + prefix)
        last = self.slot_counts[-1]
        return self.predict(h[:, S - last :]).reshape(B, R, last, -1)


# ---- loss backbones ----------------------------------------------------------------------------
class _Dinov2Embeddings(nn.Module):
    def __init__(self, cfg: Dinov2RegConfig):
        super().__init__()
        grid = cfg.image_size // cfg.patch_size
        self.cfg = cfg
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.hidden_size))
        self.mask_token = nn.Parameter(torch.zeros(1, cfg.hidden_size))  # unused at inference, kept for the key set
        self.register_tokens = nn.Parameter(torch.zeros(1, cfg.num_register_tokens, cfg.hidden_size))
        self.position_embeddings = nn.Parameter(torch.zeros(1, grid * grid + 1, cfg.hidden_size))
        self.patch_embeddings = _PatchEmbed(cfg.num_channels, cfg.hidden_size, cfg.patch_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(M, 3, H, W) -> (M, 1 + registers + patches, D)."""
        M, _, H, W = images.shape
        check_square(H, W, "DINOv2 loss")
        x = self.patch_embeddings(images.to(self.patch_embeddings.projection.weight.dtype))
        pos = self.position_embeddings
        # HF Dinov2WithRegisters resamples the 37x37 grid with an antialiased bicubic in float32.
        patches = resize_pos_2d(pos[:, 1:], H // self.cfg.patch_size, antialias=True)
        x = torch.cat([self.cls_token.expand(M, -1, -1) + pos[:, :1], x + patches], dim=1)
        return torch.cat([x[:, :1], self.register_tokens.expand(M, -1, -1), x[:, 1:]], dim=1)


class _LayerScale(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.lambda1 = nn.Parameter(torch.ones(dim))


class _MLP(nn.Module):
    def __init__(self, dim: int, hidden: int, act: str):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act = ACTIVATIONS[act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Dinov2Layer(nn.Module):
    def __init__(self, cfg: Dinov2RegConfig):
        super().__init__()
        d = cfg.hidden_size
        self.norm1 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.attention = ViTAttention(d, cfg.num_attention_heads, cfg.qkv_bias)
        self.layer_scale1 = _LayerScale(d)
        self.norm2 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.mlp = _MLP(d, d * cfg.mlp_ratio, cfg.hidden_act)
        self.layer_scale2 = _LayerScale(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attention(self.norm1(x)) * self.layer_scale1.lambda1 + x
        return self.mlp(self.norm2(x)) * self.layer_scale2.lambda1 + x


class Dinov2Reg(nn.Module):
    """`dinov2_reg`: DINOv2 with registers (only the hidden states feed the loss)."""

    def __init__(self, cfg: Dinov2RegConfig):
        super().__init__()
        self.cfg = cfg
        self.embeddings = _Dinov2Embeddings(cfg)
        self.encoder = _LayerList([Dinov2Layer(cfg) for _ in range(cfg.num_hidden_layers)])
        self.layernorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)  # unused by the loss

    def hidden_states(self, images: torch.Tensor) -> list[torch.Tensor]:
        """(M, 3, H, W) -> [embeddings, layer 1, ..., layer L] outputs, each (M, tokens, D), before the final LN."""
        x = self.embeddings(images)
        states = [x]
        for layer in self.encoder.layer:
            x = layer(x)
            states.append(x)
        return states


class _SiglipAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_proj(attend(self.q_proj(x), self.k_proj(x), self.v_proj(x), self.heads))


class SiglipLayer(nn.Module):
    def __init__(self, cfg: SiglipVisionConfig):
        super().__init__()
        d = cfg.hidden_size
        self.layer_norm1 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.self_attn = _SiglipAttention(d, cfg.num_attention_heads)
        self.layer_norm2 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.mlp = _MLP(d, cfg.intermediate_size, cfg.hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.self_attn(self.layer_norm1(x)) + x
        return self.mlp(self.layer_norm2(x)) + x


class _SiglipEmbeddings(nn.Module):
    def __init__(self, cfg: SiglipVisionConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_embedding = nn.Conv2d(cfg.num_channels, cfg.hidden_size, cfg.patch_size, cfg.patch_size)
        self.position_embedding = nn.Embedding((cfg.image_size // cfg.patch_size) ** 2, cfg.hidden_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        H, W = images.shape[-2:]
        check_square(H, W, "SigLIP loss")
        if H != self.cfg.image_size:
            raise ConfigError(f"the SigLIP loss needs {self.cfg.image_size} px frames, got {H} px")
        x = self.patch_embedding(images.to(self.patch_embedding.weight.dtype)).flatten(2).transpose(1, 2)
        return x + self.position_embedding.weight[None]


class _SiglipEncoder(nn.Module):
    def __init__(self, cfg: SiglipVisionConfig):
        super().__init__()
        self.layers = nn.ModuleList([SiglipLayer(cfg) for _ in range(cfg.num_hidden_layers)])


class _SiglipVisionTower(nn.Module):
    def __init__(self, cfg: SiglipVisionConfig):
        super().__init__()
        self.embeddings = _SiglipEmbeddings(cfg)
        self.encoder = _SiglipEncoder(cfg)
        self.post_layernorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)  # unused by the loss


class SiglipVision(nn.Module):
    """`siglip2`: the SigLIP vision tower (its pooling head is in the file but unused, so not built)."""

    UNUSED_PREFIX = "vision_model.head."

    def __init__(self, cfg: SiglipVisionConfig):
        super().__init__()
        self.cfg = cfg
        self.vision_model = _SiglipVisionTower(cfg)

    def hidden_states(self, images: torch.Tensor) -> list[torch.Tensor]:
        """(M, 3, H, W) -> [embeddings, layer 1, ..., layer L] outputs, before `post_layernorm`."""
        x = self.vision_model.embeddings(images)
        states = [x]
        for layer in self.vision_model.encoder.layers:
            x = layer(x)
            states.append(x)
        return states


def check_square(h: int, w: int, what: str) -> None:
    if h != w:
        raise ConfigError(f"the {what} needs square frames, got {h}x{w}")


def _retransform(task: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Task-normalised (M, 3, H, W) -> a backbone's input: undo the task transform to 0..255, then /255 and normalise.

    The operations follow the reference's `retransform` one by one (divide by the rescale factor,
    multiply by 1/255) so that the float32 rounding matches.
    """

    def stats(values):
        return torch.tensor(values, dtype=task.dtype, device=task.device).view(3, 1, 1)

    x = task * stats(TASK_STD) + stats(TASK_MEAN)
    x = (x + 1) / TASK_RESCALE
    x = x * (1 / 255)
    return (x - stats(mean)) / stats(std)


# ---- the whole model ---------------------------------------------------------------------------
class VideoMAEAutoGaze(nn.Module):
    """The VideoMAE_AutoGaze task model: `vit`, `decoder`, and the loss backbones it was trained with."""

    def __init__(self, config: VideoMAEConfig | None = None):
        super().__init__()
        self.config = config or VideoMAEConfig()
        self.config.validate()
        cfg = self.config.mae
        self.vit = MAEEncoder(cfg)
        self.decoder = MAEDecoder(cfg)
        terms = cfg.loss_list
        if "dinov2_reg" in terms:
            self.dinov2_reg = Dinov2Reg(self.config.dinov2)
        if "siglip2" in terms:
            self.siglip2 = SiglipVision(self.config.siglip)
        self.loss_weights = dict(zip(terms, cfg.weight_list))

    # -- sizes
    @property
    def patch_size(self) -> int:
        return self.config.mae.patch_size

    @property
    def slots_per_frame(self) -> int:
        return sum(self.decoder.slot_counts)

    @property
    def canvas(self) -> int:
        return self.config.mae.scale_list[-1]

    def unused_key_prefixes(self) -> tuple[str, ...]:
        """Keys of the published file that this model does not build (the SigLIP pooling head)."""
        return ("siglip2." + SiglipVision.UNUSED_PREFIX,) if "siglip2" in self.loss_weights else ()

    # -- forward
    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, C, C) task-normalised frames -> (B, T*S, D) tokens of every slot."""
        return self.vit.embeddings(pixels)

    def reconstruct_logits(
        self,
        tokens: torch.Tensor,
        gazing_pos: torch.Tensor,
        padded: torch.Tensor,
        counts: Sequence[int],
        frames: Sequence[int],
        together: bool = True,
    ) -> torch.Tensor:
        """Encode the gazed tokens and decode the frames to rebuild.

        The decoder feeds every slot of a rebuilt frame but only the gazed tokens of the others, so
        a frame's result depends on which earlier frames are rebuilt with it. `together` is the
        reference's single pass over `frames` (its `frame_idx_to_reconstruct`); otherwise each frame
        gets its own decoder pass, as if it alone were asked for (the encoder runs once either way).

        Args:
            tokens: (B or 1, T*S, D) from `embed`.
            gazing_pos: (B, N) clip-local slot ids; padded: (B, N) bool; counts: (T,) entries per frame.
            frames: (R,) distinct clip-local frames to rebuild.
            together: one decoder pass for all frames (reference) or one per frame.

        Returns:
            (B, R, n_last, p*p*3) logits of the finest scale's patches.
        """
        latent = self.vit(tokens, gazing_pos, padded, counts)
        if together:
            return self.decoder(latent, gazing_pos, padded, counts, frames)
        return self.decoder.forward_separate(latent, gazing_pos, padded, counts, frames)

    def unpatchify(self, logits: torch.Tensor) -> torch.Tensor:
        """(..., n*n, p*p*3) -> (..., 3, C, C) task-normalised frames."""
        return unpatchify(logits, self.patch_size, self.config.mae.num_channels)

    # -- loss
    def target_features(self, target: torch.Tensor, terms: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """Backbone features of the target frames (M, 3, C, C), reusable across many predictions."""
        terms = list(self.loss_weights) if terms is None else list(terms)
        feats = {}
        if "dinov2_reg" in terms:
            feats["dinov2_reg"] = self._dinov2_features(target)
        if "siglip2" in terms:
            feats["siglip2"] = self._siglip_features(target)
        return feats

    def loss_terms(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        terms: Sequence[str] | None = None,
        target_features: dict[str, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Unweighted per-frame loss terms.

        Args:
            pred: (M, 3, C, C) rebuilt frames, task-normalised.
            target: (M or 1, 3, C, C) input frames, task-normalised.
            terms: which of the model's terms to compute (default all, in the config's order).
            target_features: from `target_features(target)`, to skip recomputing them.

        Returns:
            name -> (M,) float: `l1` mean |pred - target| over (C, H, W); `dinov2_reg` / `siglip2` the
            MSE of the last 4 hidden states (before the final LayerNorm; DINOv2 without CLS and registers).
        """
        terms = list(self.loss_weights) if terms is None else list(terms)
        out = {}
        for name in terms:
            if name == "l1":
                out[name] = (pred - target).abs().mean(dim=(-1, -2, -3))
                continue
            feats = self._dinov2_features if name == "dinov2_reg" else self._siglip_features
            ref = target_features[name] if target_features and name in target_features else feats(target)
            out[name] = (feats(pred) - ref).pow(2).mean(dim=(-1, -2))
        return out

    def weighted_loss(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sum of weight * term, accumulated in the config's order as the reference does."""
        total = 0
        for name, weight in self.loss_weights.items():
            if name in terms:
                total = total + weight * terms[name]
        return total

    def _dinov2_features(self, task: torch.Tensor) -> torch.Tensor:
        states = self.dinov2_reg.hidden_states(_retransform(task, DINOV2_MEAN, DINOV2_STD))
        skip = 1 + self.config.dinov2.num_register_tokens
        return torch.cat([s[:, skip:] for s in states[-4:]], dim=-1)

    def _siglip_features(self, task: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.siglip2.hidden_states(_retransform(task, SIGLIP_MEAN, SIGLIP_STD))[-4:], dim=-1)


def init_random_(model: VideoMAEAutoGaze, seed: int = 0) -> VideoMAEAutoGaze:
    """Fill every parameter with small random values (for timings and tests; not a trained model)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(
                (
                    "norm.weight",
                    "norm1.weight",
                    "norm2.weight",
                    "layernorm_before.weight",
                    "layernorm_after.weight",
                    "layer_norm1.weight",
                    "layer_norm2.weight",
                    "layernorm.weight",
                    "lambda1",
                )
            ):
                p.fill_(1.0)
            else:
                p.normal_(0.0, 0.02, generator=gen)
    return model
