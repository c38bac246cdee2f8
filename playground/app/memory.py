"""Keep the app's memory bounded: what a cached value weighs, and freed memory handed back to the system.

`nbytes` sizes cache entries (the LRUs in `cache.py` evict past a byte budget, not only a count).
`tune_allocator` keeps glibc's malloc from holding on to memory that Python has freed: by default
it raises its mmap threshold each time a large block is freed (up to 32 MiB), after which frames
and reconstructions come from its heaps (one per worker thread), which fragment and rarely shrink.
Measured in-process over requests 20 to 100 of `benchmarks/app_memory.py`: RSS +240 MiB with the
threshold fixed at 1 MiB (190 of them freed memory that `malloc_trim` would return), +93 MiB at 128 KiB.
But at 128 KiB every temporary of a frame's size is a fresh mmap, zero-filled by the kernel, which
made greedy gazing about 3x slower in the app. So the threshold is 4 MiB (as fast as glibc's
default), and `trim` hands the heaps' free pages back after every callback (`malloc_trim`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import os
import sys
from typing import Any

import numpy as np

M_TRIM_THRESHOLD = -1  # mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 4 << 20  # blocks of 4 MiB or more (a clip, a canvas) are mmapped: freeing one returns it
_libc: Any = None


def nbytes(value: Any) -> int:
    """Bytes of the numpy arrays and torch tensors inside `value`, each buffer counted once.

    Looks inside dataclasses, tuples, lists, sets and dicts (keys and values); other objects
    count as 0, so sizing never walks into models or modules.
    """
    seen: set[int] = set()
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, np.ndarray):
            root = v
            while isinstance(root.base, np.ndarray):
                root = root.base
            ptr = root.__array_interface__["data"][0]
            if ptr not in seen:
                seen.add(ptr)
                total += root.nbytes
        elif _is_tensor(v):
            storage = v.untyped_storage()
            ptr = storage.data_ptr()
            if ptr not in seen:
                seen.add(ptr)
                total += storage.nbytes()
        elif id(v) in seen:
            continue
        elif isinstance(v, dict):
            seen.add(id(v))
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, (tuple, list, set, frozenset)):
            seen.add(id(v))
            stack.extend(v)
        elif dataclasses.is_dataclass(v) and not isinstance(v, type):
            seen.add(id(v))
            # What the instance holds, read without calling properties: a field computed on first read
            # (a paint rebuild's SSIM) is not computed by sizing it, and its pending inputs are counted.
            held = vars(v).values() if hasattr(v, "__dict__") else (getattr(v, f.name) for f in dataclasses.fields(v))
            stack.extend(held)
    return total


def _is_tensor(value: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(value, torch.Tensor)


def _torch():
    return sys.modules.get("torch")  # a tensor can only exist once torch is imported


def trim() -> bool:
    """Hand the free pages of every malloc heap back to the system (glibc's `malloc_trim`).

    Called after every app callback: with the 4 MiB mmap threshold, the frames and canvases a run
    frees stay in the heaps until trimmed. Returns whether anything was released (False off glibc).
    """
    lib = _glibc()
    return bool(lib.malloc_trim(0)) if lib is not None and hasattr(lib, "malloc_trim") else False


def _glibc():
    """The C library when it is glibc (it has `mallopt`), else None."""
    global _libc
    if _libc is None:
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _libc = lib if hasattr(lib, "mallopt") and hasattr(lib, "gnu_get_libc_version") else False
        except OSError:
            _libc = False
    return _libc or None


def tune_allocator() -> bool:
    """Fix glibc's mmap and trim thresholds (it raises them as big blocks are freed, then keeps the memory).

    Returns whether the allocator was tuned (False off glibc, or when $MALLOC_MMAP_THRESHOLD_ is set).
    """
    lib = _glibc()
    if lib is None or os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return False
    return bool(lib.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        lib.mallopt(M_TRIM_THRESHOLD, 4 * MMAP_THRESHOLD)
    )
