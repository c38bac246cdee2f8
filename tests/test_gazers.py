"""Gazer invariants, parametrised over the registry (as timm's tests are over `list_models()`).

Every built-in gazer of `available_gazers(built_in=True)` is checked here, and a tiny random checkpoint
of every learned family of `LEARNED_GAZERS` (written in code, loaded by its folder); a new gazer or
learned family is tested by being registered. What a gazer says of itself (`uses_budget`, `uses_threshold`) decides which
invariants apply, not its name.
"""

import numpy as np
import pytest
import torch
from conftest import param_value, tiny_checkpoints

from playground import PlaygroundError, available_gazers, load_gazer, load_reconstructor
from playground.gaze import concat_frames
from playground.gazers import LEARNED_GAZERS

NAMES = available_gazers(built_in=True) + tiny_checkpoints(LEARNED_GAZERS)
THRESHOLD_NAMES = [n for n in NAMES if load_gazer(param_value(n)).uses_threshold]


@pytest.fixture(scope="module", params=["synthetic", "example"])
def clip(request):
    return request.getfixturevalue(f"{request.param}_clip")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("ratio", [0.05, 0.3])
def test_ids_in_range_and_budget(name, ratio, clip, device):
    result = load_gazer(name, device=device).gaze(clip, gazing_ratio=ratio)
    S = result.grid.num_slots
    budget = max(1, int(np.float32(ratio) * np.float32(S)))
    T = clip.shape[0]
    assert result.num_frames == T and result.batch_size == 1
    for t in range(T):
        ids = result.frame_slots(0, t)
        assert ((ids >= 0) & (ids < S)).all()
        assert len(set(ids.tolist())) == len(ids), "a slot was gazed twice in one frame"
        if load_gazer(name).uses_budget:
            assert len(ids) <= budget
    if load_gazer(name).uses_budget:  # no threshold: every gazer spends the whole budget
        assert (result.counts() == budget).all()


def test_full_gazes_every_finest_slot(clip):
    result = load_gazer("full").gaze(clip)
    mask = result.slot_mask()
    assert mask[..., 69:].all() and not mask[..., :69].any()


@pytest.mark.parametrize("name", THRESHOLD_NAMES)
def test_higher_threshold_never_keeps_more(name, clip):
    gazer = load_gazer(name)
    # A cap of 30 % keeps the strictest thresholds' work bounded; below the cap the order must still hold.
    kept = [gazer.gaze(clip, gazing_ratio=0.3, task_loss_requirement=x).num_gazed for x in (0.05, 0.1, 0.2, 0.4, 0.8)]
    assert kept[-1] < kept[0], kept
    assert kept == sorted(kept, reverse=True), kept


@pytest.mark.parametrize("name", THRESHOLD_NAMES)
def test_threshold_matters_on_real_footage(name, example_clip):
    gazer = load_gazer(name)
    assert (
        gazer.gaze(example_clip, gazing_ratio=0.3, task_loss_requirement=0.05).num_gazed
        > gazer.gaze(example_clip, gazing_ratio=0.3, task_loss_requirement=0.8).num_gazed
    )


def test_greedy_meets_threshold_and_matches_paint(clip):
    threshold = 0.15
    result = load_gazer("greedy").gaze(clip, task_loss_requirement=threshold)
    rec = load_reconstructor("paint").reconstruct(clip, result)
    # The greedy trace is measured with the paint rules, so the two agree exactly.
    assert torch.allclose(result.frame_loss, rec.loss, atol=1e-5)
    met = result.frame_loss[0] <= threshold
    assert met.float().mean() > 0.8  # frames that miss it ran out of improving patches
    # Per-gaze losses never increase within a frame.
    for t in range(result.num_frames):
        start = int(result.num_gazing_each_frame[:t].sum())
        trace = result.loss[0, start : start + int(result.counts()[0, t])]
        assert (trace[1:] <= trace[:-1] + 1e-6).all()


@pytest.mark.parametrize("name", NAMES)
def test_stream_equals_gaze(name, synthetic_clip):
    gazer = load_gazer(name)
    static = gazer.gaze(synthetic_clip, gazing_ratio=0.1, task_loss_requirement=0.2)
    frames = list(gazer.stream(synthetic_clip, gazing_ratio=0.1, task_loss_requirement=0.2))
    assert len(frames) == synthetic_clip.shape[0]
    assert all(f.num_frames == 1 for f in frames)
    streamed = concat_frames(frames)
    assert torch.equal(streamed.gazing_pos, static.gazing_pos)
    assert torch.equal(streamed.if_padded_gazing, static.if_padded_gazing)


@pytest.mark.parametrize("name", NAMES)
def test_stream_takes_a_live_source(name, synthetic_clip):
    """Frames handed over one at a time (the app's Live tab) gaze as the whole clip does."""
    gazer = load_gazer(name)
    static = gazer.gaze(synthetic_clip, gazing_ratio=0.1, task_loss_requirement=0.2)
    live = concat_frames(list(gazer.stream(iter(list(synthetic_clip)), gazing_ratio=0.1, task_loss_requirement=0.2)))
    assert torch.equal(live.gazing_pos, static.gazing_pos)
    assert torch.equal(live.if_padded_gazing, static.if_padded_gazing)
    with pytest.raises(PlaygroundError, match="single float gazing_ratio"):
        next(gazer.stream(iter(list(synthetic_clip)), gazing_ratio=[0.1] * 16))


def test_batch_rows_equal_single_clips(synthetic_clip):
    batch = np.stack([synthetic_clip, synthetic_clip[:, :, ::-1]])
    gazer = load_gazer("greedy")
    both = gazer.gaze(batch, task_loss_requirement=0.2)
    for b in range(2):
        single = gazer.gaze(np.ascontiguousarray(batch[b]), task_loss_requirement=0.2)
        for t in range(16):
            assert both.frame_slots(b, t).tolist() == single.frame_slots(0, t).tolist()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gazing_ratio": 0.0},
        {"gazing_ratio": 1.5},
        {"gazing_ratio": [0.1, 0.2]},
        {"gazing_ratio": "lots"},
        {"task_loss_requirement": float("nan")},
        {"task_loss_requirement": "low"},
    ],
)
def test_bad_knobs_raise_one_line(kwargs, synthetic_clip):
    with pytest.raises(PlaygroundError) as err:
        load_gazer("greedy").gaze(synthetic_clip, **kwargs)
    assert "\n" not in str(err.value)


def test_unknown_gazer_is_a_clear_error(tmp_path):
    with pytest.raises(PlaygroundError):
        load_gazer(str(tmp_path / "no-such-checkpoint"))


@pytest.mark.parametrize("name", [n for n in NAMES if not load_gazer(param_value(n)).uses_threshold])
def test_gazers_that_ignore_the_threshold_do(name, synthetic_clip):
    gazer = load_gazer(name)
    assert (
        gazer.gaze(synthetic_clip, gazing_ratio=0.2, task_loss_requirement=0.05).gazing_pos.tolist()
        == gazer.gaze(synthetic_clip, gazing_ratio=0.2, task_loss_requirement=0.8).gazing_pos.tolist()
    )


@pytest.mark.parametrize("name", NAMES)
def test_unknown_options_are_one_line(name):
    with pytest.raises(PlaygroundError, match="takes no option"):
        load_gazer(name, frobnicate=1)
