"""Arrays get the limits paths get: frames a clip, pixels a frame, pixels in all, checked on the shape
before anything is copied, overridable by the same argument names (`as_clips`, `input_limits`).

Every big input here is a broadcast view (no memory): a refusal must come at once, before any copy.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from playground import load_gazer, load_reconstructor
from playground import video as video_module
from playground.errors import PlaygroundError
from playground.gazers.base import gaze_frames
from playground.video import DecodeLimitError, as_clips, input_limits, read_clip
from playground.whole_video import VideoGazer


def view(*shape: int) -> np.ndarray:
    """A uint8 array of `shape` that costs one pixel of memory."""
    return np.broadcast_to(np.full((1,) * (len(shape) - 1) + (3,), 90, np.uint8), shape)


ISSUE = [  # the tester's inputs, and the limit each is beyond
    ((100000, 64, 64, 3), "max_frames"),
    ((16, 8192, 8192, 3), "max_frame_pixels"),
    ((64, 16, 1080, 1920, 3), "max_pixels"),
    ((4096, 224, 224, 3), "max_frames"),
]


@pytest.mark.parametrize("shape, limit", ISSUE)
@pytest.mark.parametrize("gazer", ["greedy", "framediff"])
def test_the_issue_arrays_are_refused_at_once_naming_the_limit(shape, limit, gazer):
    start = time.perf_counter()
    with pytest.raises(DecodeLimitError) as err:
        load_gazer(gazer).gaze(view(*shape))
    assert time.perf_counter() - start < 0.5
    message = str(err.value)
    assert err.value.limit == limit and f"raise {limit}" in message and "input_limits" in message
    assert "\n" not in message and len(message) < 300


@pytest.fixture
def small_limits(monkeypatch):
    """Limits of 8 frames, 1,000 pixels a frame and 4,000 pixels in all, so that small views exceed them."""
    monkeypatch.setattr(video_module, "MAX_READ_FRAMES", 8)
    monkeypatch.setattr(video_module, "MAX_FRAME_PIXELS", 1000)
    monkeypatch.setattr(video_module, "MAX_DECODE_PIXELS", 4000)


def entry_points(tmp_path):
    """Every way a video array reaches the playground's work, by name."""
    gazer, paint = load_gazer("framediff"), load_reconstructor("paint")
    np.save(tmp_path / "long.npy", np.zeros((9, 16, 16, 3), np.uint8))
    return {
        "as_clips": as_clips,
        "gaze": gazer.gaze,
        "stream": lambda v: next(iter(load_gazer("greedy").stream(v))),
        "gaze_frames": lambda v: gaze_frames(gazer, v),
        "reconstruct": lambda v: paint.reconstruct(v, None),
        "tensor": lambda v: gazer.gaze(torch.from_numpy(np.ascontiguousarray(v))),
        "npy": lambda v: as_clips(tmp_path / "long.npy"),
    }


@pytest.mark.parametrize("name", ["as_clips", "gaze", "stream", "gaze_frames", "reconstruct", "tensor", "npy"])
def test_every_entry_point_checks_the_array(small_limits, tmp_path, name):
    call = entry_points(tmp_path)[name]
    with pytest.raises(DecodeLimitError, match="9 frames a clip, over the limit of 8") as err:
        call(view(9, 16, 16, 3))
    assert err.value.limit == "max_frames"


def test_a_tensor_is_checked_before_it_leaves_its_device():
    meta = torch.empty((2000, 16, 16, 3), dtype=torch.uint8, device="meta")  # .cpu() would raise
    with pytest.raises(DecodeLimitError, match="max_frames"):
        as_clips(meta)


@pytest.mark.parametrize(
    "shape, limit",
    [((9, 16, 16, 3), "max_frames"), ((1, 40, 30, 3), "max_frame_pixels"), ((2, 8, 16, 16, 3), "max_pixels")],
)
def test_limits_pass_at_the_limit_and_the_same_names_lift_them(small_limits, shape, limit):
    with pytest.raises(DecodeLimitError) as err:
        as_clips(view(*shape))
    assert err.value.limit == limit
    assert as_clips(view(*shape), **{limit: None}).shape[-4:] == shape[-4:]  # as_clips' argument
    with input_limits(**{limit: None}):  # or around any entry point
        assert load_gazer("framediff").gaze(view(*shape)).num_frames == shape[-4]
    with pytest.raises(DecodeLimitError):  # only inside the block
        load_gazer("framediff").gaze(view(*shape))
    assert as_clips(view(8, 25, 20, 3)).shape == (1, 8, 25, 20, 3)  # 8 frames of 500 pixels: 4,000 in all


def test_npy_clips_are_checked_memory_mapped_and_read_clip_takes_only_its_frames(small_limits, tmp_path):
    np.save(
        tmp_path / "long.npy",
        np.arange(20, dtype=np.uint8)[:, None, None, None].repeat(16, 1).repeat(16, 2).repeat(3, 3),
    )
    frames, _, _ = read_clip(tmp_path / "long.npy", num_frames=4)
    assert frames.shape == (4, 16, 16, 3) and frames.flags.writeable and list(frames[:, 0, 0, 0]) == [0, 1, 2, 3]
    with pytest.raises(DecodeLimitError, match="max_frames"):  # read_clip's own limits, as for a video file
        read_clip(tmp_path / "long.npy", num_frames=20, max_frames=8)
    assert read_clip(tmp_path / "long.npy", num_frames=20)[0].shape[0] == 20
    with pytest.raises(DecodeLimitError, match="20 frames a clip"):  # as_clips takes the whole array
        as_clips(tmp_path / "long.npy")


def test_whole_video_gazing_takes_any_length(small_limits):
    """gaze_video and VideoGazer cut a long array (or a stream of chunks) chunk by chunk: no frame or total limit."""
    gazer = load_gazer("framediff")
    assert gazer.gaze_video(view(40, 16, 16, 3), batch_size=2).num_frames == 40
    chunks = (view(16, 16, 16, 3) for _ in range(3))
    assert sum(c.num_frames for c in VideoGazer(gazer, batch_size=2).chunks(chunks)) == 48
    with pytest.raises(DecodeLimitError, match="max_frame_pixels"):  # a frame's pixels are still limited
        gazer.gaze_video(view(40, 40, 30, 3))


@pytest.mark.parametrize(
    "bad", [dict(max_frames=0), dict(max_pixels=-1), dict(max_frame_pixels=2.5), dict(max_side=100)]
)
def test_input_limits_refuses_bad_values_in_one_line(bad):
    with pytest.raises(PlaygroundError) as err:
        with input_limits(**bad):
            pass
    assert "\n" not in str(err.value)
