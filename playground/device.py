"""Device resolution and the single bf16 autocast helper.

The device is resolved once, in this order: explicit argument > `PLAYGROUND_DEVICE` env var >
CUDA when available > CPU. bf16 autocast is only ever enabled on CUDA, through `autocast()`,
which is a no-op context everywhere else.
"""

from __future__ import annotations

import contextlib
import os

import torch

from .errors import PlaygroundError

ENV_DEVICE = "PLAYGROUND_DEVICE"


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Return the device to run on: argument > $PLAYGROUND_DEVICE > cuda > cpu."""
    choice = device if device is not None else os.environ.get(ENV_DEVICE) or None
    if choice is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(choice)
    except (RuntimeError, TypeError) as exc:
        raise PlaygroundError(f"unknown device {choice!r}: use 'cpu', 'cuda' or 'cuda:N'") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise PlaygroundError(f"device {choice!r} was asked for but CUDA is not available here")
    return resolved


def autocast(device: torch.device, enabled: bool = True, cache: bool = True) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when `enabled`; a no-op context on any other device.

    `cache=False` re-casts the weights at every op instead of keeping the casts: what a CUDA graph
    needs, since it must record the casts rather than point at cached copies.
    """
    if enabled and torch.device(device).type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=cache)
    return contextlib.nullcontext()


@contextlib.contextmanager
def cpu_threads(device: torch.device, threads: int = 1):
    """Run a loop of many tiny CPU ops on `threads` intra-op threads, then restore the setting.

    The training-free gazers and `paint` issue thousands of ops on ~200k-element tensors. Split
    over OpenMP threads they gain little on an idle machine and slow down up to 10x when the cores
    are shared (other processes, concurrent app requests), because the threads spin at every
    barrier. A no-op on CUDA.
    """
    if torch.device(device).type == "cuda" or torch.get_num_threads() <= threads:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels so that wall-clock timings are honest (no-op on CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
