"""Image quality metrics: L1 in the reference's normalised space, PSNR and SSIM on uint8 pixels."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean |pred - target| over (C, H, W): float (..., C, H, W) -> (...)."""
    return (pred.float() - target.float()).abs().mean(dim=(-3, -2, -1))


def psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of uint8 (..., H, W, 3) frames -> (...); identical frames give +inf."""
    mse = (pred.float() - target.float()).pow(2).mean(dim=(-3, -2, -1))
    return 10 * torch.log10(255.0**2 / mse)


def ssim(pred: torch.Tensor, target: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Mean SSIM of uint8 (..., H, W, 3) frames -> (...), on luma with a uniform window."""
    weights = torch.tensor([0.299, 0.587, 0.114])

    def luma(x: torch.Tensor) -> torch.Tensor:
        y = (x.float() @ weights) / 255.0
        return y.reshape(-1, 1, *y.shape[-2:])

    a, b = luma(pred), luma(target)
    pool = lambda x: F.avg_pool2d(x, window, stride=1)  # noqa: E731  (valid-mode local mean)
    mu_a, mu_b = pool(a), pool(b)
    var_a = pool(a * a) - mu_a**2
    var_b = pool(b * b) - mu_b**2
    cov = pool(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    score = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return score.mean(dim=(-3, -2, -1)).reshape(pred.shape[:-3])
