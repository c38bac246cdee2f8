"""Bounded memory: caches bounded in bytes, sessions that hold no frames, a bounded number of sessions.

The figures (RSS over 200 requests) come from `benchmarks/app_memory.py`."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from playground.app import cache, callbacks, memory, pipeline

ROOT = Path(__file__).resolve().parents[1]
SQUARE = ROOT / "assets" / "synthetic_square.mp4"


def test_byte_budgeted_lru_evicts_past_its_budget():
    lru = cache.LRU(capacity=100, max_bytes=3000)
    for i in range(4):
        lru.get(i, lambda: np.zeros(1000, np.uint8))
    assert 0 not in lru and [i in lru for i in (1, 2, 3)] == [True] * 3 and lru.nbytes == 3000
    shared = torch.zeros(500, dtype=torch.uint8)
    lru.get("pair", lambda: (shared, shared.numpy(), {"again": shared[:10]}))  # one buffer, counted once
    assert lru.nbytes == 2500 and 1 not in lru
    big = lru.get("big", lambda: np.zeros(4000, np.uint8))  # over the whole budget: returned, not kept
    assert big.nbytes == 4000 and "big" not in lru and lru.nbytes == 2500
    lru.clear()
    assert lru.nbytes == 0 and len(lru) == 0


def test_sessions_keep_a_small_view_and_evicted_frames_come_back():
    out = callbacks.gaze_action(str(SQUARE), num_frames=4, threshold=0.15, ratio=0.5, progress=pipeline.no_progress)
    panel, view = out["panel"], out["view"]
    assert memory.nbytes(view.run) > 1e5  # the frames are in cache.VIEWS, not in the view
    assert len(pickle.dumps(view)) < 10_000, "the session's gr.State must not hold the frames"
    cache.VIEWS.clear()
    assert np.array_equal(callbacks.frame_action(view, 0), panel)  # rebuilt from the video and settings


def test_gradio_keeps_a_bounded_number_of_sessions():
    from playground.app import launch_kwargs

    assert launch_kwargs()["state_session_capacity"] == cache.SESSIONS <= 1000  # Gradio's default is 10000
