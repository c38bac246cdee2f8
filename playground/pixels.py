"""The reference's normalised pixel space, and resizing frames onto the gaze canvas.

AutoGaze and VideoMAE_AutoGaze both see frames as `((x / 127.5 - 1) - mean) / std` with the
ImageNet mean and std (a "double normalisation", range about [-6.5, 2.6]). Reconstruction losses
(L1) are measured in this space so that they are comparable with the reference loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _stats(device, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(IMAGENET_MEAN, device=device, dtype=dtype).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device, dtype=dtype).view(3, 1, 1)
    return mean, std


def normalize(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (..., H, W, 3) -> float32 (..., 3, H, W) in the reference's normalised space."""
    x = frames.to(torch.float32).movedim(-1, -3) * (1 / 127.5) - 1
    mean, std = _stats(x.device)
    return (x - mean) / std


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """float (..., 3, H, W) normalised -> uint8 (..., H, W, 3), clamped."""
    mean, std = _stats(x.device)
    pixels = ((x.float() * std + mean) + 1) * 127.5
    return pixels.round().clamp(0, 255).to(torch.uint8).movedim(-3, -1)


def resize(x: torch.Tensor, size: int | tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """Resize float (..., C, H, W) to `size`, antialiased when shrinking (bicubic/bilinear)."""
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(x.shape[-2:]) == hw:
        return x
    lead = x.shape[:-3]
    flat = x.reshape(-1, *x.shape[-3:])
    shrink = hw[0] < x.shape[-2] or hw[1] < x.shape[-1]
    kwargs = {"align_corners": False, "antialias": shrink} if mode in ("bilinear", "bicubic") else {}
    out = F.interpolate(flat, size=hw, mode=mode, **kwargs)
    return out.reshape(*lead, *out.shape[-3:])


def to_canvas(clips: torch.Tensor, canvas: int) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) -> normalised float32 (B, T, 3, canvas, canvas), squashed as the reference does."""
    return resize(normalize(clips), canvas)
