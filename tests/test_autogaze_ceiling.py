"""The shape ceiling of `benchmarks/autogaze_speed.py --ceiling`: its recorder sees every matrix product
of a gaze (the work FlopCounterMode counts), in the right phases, and its standalone replay runs each
recorded (op, layouts) on fresh tensors. On the tiny checkpoint; no timing is checked."""

from __future__ import annotations

import importlib.util
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES

from playground.gazers.autogaze import load_autogaze
from playground.synthetic import moving_square

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def speed():
    """The benchmark script as a module (its `timing` import needs benchmarks/ on the path)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("autogaze_speed", BENCHMARKS / "autogaze_speed.py")
        module = sys.modules["autogaze_speed"] = importlib.util.module_from_spec(spec)  # dataclasses look it up
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("autogaze_speed", None)
        sys.path.remove(str(BENCHMARKS))


def test_recorder_sees_all_the_counted_work_by_phase(speed):
    gazer = load_autogaze(str(FIXTURES / "autogaze" / "tiny_seed0"), device="cpu")
    video = np.stack([moving_square(num_frames=2, height=64, width=64)] * 2)
    call = partial(gazer.gaze, video, gazing_ratio=0.2)
    products = speed.record_products(gazer, call, speed.time.perf_counter)
    assert gazer.on_phase is None  # the hook is taken off again
    for product in products:
        speed.time_standalone(product, repeats=1)
    assert {p.phase for p in products} == {"encode", "prefill", "decode"}
    assert {p.kind for p in products} >= {"convolution", "linear", "attention (SDPA)"}
    assert all(p.calls >= 1 and p.flops > 0 and p.alone > 0 for p in products)
    counted = speed.gaze_gflop(gazer, video, 0.2)
    assert speed._gflop(products) == pytest.approx(counted, rel=1e-9)
