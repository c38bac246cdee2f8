"""Video IO: decoding every container, sampling knobs, resize/chunk/tile, MP4 writing, and the bad-input matrix.

Every input is generated in a temporary folder with the ffmpeg binary of imageio-ffmpeg.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from playground import video as video_module
from playground.errors import PlaygroundError
from playground.video import (
    VideoInfo,
    as_clips,
    chunk_frames,
    probe_video,
    read_video,
    resize_frames,
    sample_indices,
    tile_frames,
    untile_frames,
    write_video,
)

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
CONTAINERS = {"mp4": [], "mov": [], "mkv": [], "avi": [], "webm": ["-c:v", "libvpx", "-b:v", "200k"]}


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_testsrc(path: Path, size: str = "96x64", rate: int = 10, seconds: float = 1.0, extra=()) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}", "-t", str(seconds), *extra, str(path))
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """A folder of tiny clips, one per container, plus the bad inputs."""
    d = tmp_path_factory.mktemp("media")
    for ext, extra in CONTAINERS.items():
        make_testsrc(d / f"clip.{ext}", extra=["-pix_fmt", "yuv420p", *extra])
    return d


@pytest.fixture(scope="module")
def ramp(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """40 flat grey frames at 10 fps, frame t at brightness 20 + 5 t: frames identify themselves after decoding."""
    frames = np.stack([np.full((48, 64, 3), 20 + 5 * t, np.uint8) for t in range(40)])
    path = write_video(tmp_path_factory.mktemp("ramp") / "ramp.mp4", frames, fps=10)
    return path, frames


def frame_ids(frames: np.ndarray) -> list[int]:
    return [int(round((f.mean() - 20) / 5)) for f in frames]


# ---- reading -----------------------------------------------------------------------------


@pytest.mark.parametrize("ext", sorted(CONTAINERS))
def test_every_container_decodes(media, ext):
    info = probe_video(media / f"clip.{ext}")
    assert info == VideoInfo(num_frames=10, fps=pytest.approx(10.0), height=64, width=96, duration_s=pytest.approx(1.0))
    frames = read_video(media / f"clip.{ext}")
    assert frames.shape == (10, 64, 96, 3) and frames.dtype == np.uint8
    assert frames.std() > 20  # the test pattern, not a blank frame


def test_streamed_webm_without_duration_decodes(tmp_path):
    """A webm written to a pipe (as browser recorders do) has no duration or index in its header."""
    with open(tmp_path / "stream.webm", "wb") as out:
        subprocess.run(
            [
                FFMPEG,
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=96x64:rate=10",
                "-t",
                "1",
                "-c:v",
                "libvpx",
                "-f",
                "webm",
                "-",
            ],
            stdout=out,
            check=True,
        )
    assert read_video(tmp_path / "stream.webm").shape == (10, 64, 96, 3)


def test_write_then_read_round_trip(ramp):
    path, frames = ramp
    back = read_video(path)
    assert back.shape == frames.shape
    assert frame_ids(back) == list(range(40))
    assert np.abs(back.astype(int) - frames).mean() < 2


def test_sampling_first_uniform_fps_and_start(ramp):
    path, _ = ramp
    assert frame_ids(read_video(path, num_frames=5, sampling="first")) == [0, 1, 2, 3, 4]
    assert frame_ids(read_video(path, num_frames=4, sampling="uniform")) == [5, 15, 25, 35]
    assert frame_ids(read_video(path, sampling="fps", fps=2.0)) == [0, 5, 10, 15, 20, 25, 30, 35]
    assert frame_ids(read_video(path, sampling="fps", fps=2.0, num_frames=3, start=1.0)) == [10, 15, 20]
    assert frame_ids(read_video(path, num_frames=3, sampling="first", start=2.5)) == [25, 26, 27]
    assert frame_ids(read_video(path, num_frames=2, sampling="uniform", start=1.0, end=2.0)) == [12, 17]
    # Asking for more frames than the window holds returns the window, without repeats.
    assert frame_ids(read_video(path, num_frames=100, sampling="uniform", start=3.5)) == list(range(35, 40))


@pytest.mark.parametrize("width", [48, 72])
def test_widths_decord_cannot_decode_fall_back_to_ffmpeg(tmp_path, monkeypatch, width):
    """decord 0.6 fails on some valid frame widths (48, 72 px); ffmpeg decodes them instead."""
    calls = []
    fallback = video_module._decode_ffmpeg
    monkeypatch.setattr(video_module, "_decode_ffmpeg", lambda *a: calls.append(1) or fallback(*a))
    frames = np.stack([np.full((32, width, 3), 30 + 20 * t, np.uint8) for t in range(6)])
    path = write_video(tmp_path / "narrow.mp4", frames, fps=6)
    back = read_video(path, num_frames=3, sampling="uniform")
    assert back.shape == (3, 32, width, 3)
    assert [int(round((f.mean() - 30) / 20)) for f in back] == [1, 3, 5]
    assert calls == [1]


def test_max_side_downscales_keeping_aspect(media):
    frames = read_video(media / "clip.mp4", num_frames=2, max_side=48)
    assert frames.shape == (2, 32, 48, 3)
    assert read_video(media / "clip.mp4", num_frames=1, max_side=4000).shape == (1, 64, 96, 3)  # never upscales


def test_as_clips_reads_files_with_knobs(media, tmp_path):
    assert as_clips(media / "clip.webm", num_frames=4).shape == (1, 4, 64, 96, 3)
    np.save(tmp_path / "v.npy", np.zeros((2, 3, 16, 16, 3), np.uint8))
    assert as_clips(str(tmp_path / "v.npy")).shape == (2, 3, 16, 16, 3)


def test_sample_indices_stay_in_range():
    info = VideoInfo(num_frames=7, fps=30.0, height=8, width=8, duration_s=7 / 30)
    for sampling in ("first", "uniform"):
        for n in (1, 3, 7, 20):
            idx = sample_indices(info, n, sampling)
            assert len(idx) == min(n, 7) and idx.min() >= 0 and idx.max() < 7 and np.all(np.diff(idx) > 0)
    idx = sample_indices(info, None, "fps", fps=120.0)  # faster than the video: frames repeat, in order
    assert idx.max() < 7 and np.all(np.diff(idx) >= 0) and len(idx) == 28


# ---- sparse and variable-rate frames ----------------------------------------------------


def make_sparse(
    path: Path, times: str = "N*3", frames: np.ndarray | None = None, codec: str = "cinepak", rate: int = 15
) -> Path:
    """A file whose header says `rate` fps while it holds few frames spread far apart (as cinepak AVIs,
    older cameras and screen recorders write): frame N at `times` seconds (an ffmpeg expression in N, whole
    seconds). By default 10 flat grey frames, frame t at brightness 20 + 20 t."""
    frames = np.stack([np.full((48, 64, 3), 20 + 20 * t, np.uint8) for t in range(10)]) if frames is None else frames
    subprocess.run(
        [
            FFMPEG,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{frames.shape[2]}x{frames.shape[1]}",
            "-r",
            "1",
            "-i",
            "-",
            "-vf",
            f"setpts={times}/TB",
            "-fps_mode",
            "passthrough",
            "-enc_time_base",
            f"1/{rate}",
            "-c:v",
            codec,
            "-g",
            "1",
            str(path),
        ],
        input=frames.tobytes(),
        check=True,
    )
    return path


def sparse_ids(frames: np.ndarray) -> list[int]:
    return [int(round((f.mean() - 20) / 20)) for f in frames]


def test_sparse_frame_avi_plays_all_its_frames(tmp_path):
    """10 frames 3 s apart in a 28 s AVI at "15 fps" (0.67 s of frames at that rate) is a whole video, not a truncated one."""
    path = make_sparse(tmp_path / "sparse.avi")
    info = probe_video(path)
    assert (info.num_frames, info.duration_s, info.fps) == (10, pytest.approx(28.0), pytest.approx(10 / 28))
    np.testing.assert_allclose(info.frame_times, np.arange(10) * 3.0, atol=1e-4)
    assert sparse_ids(read_video(path)) == list(range(10))
    assert sparse_ids(as_clips(path)[0]) == list(range(10))
    frames, play_fps, _ = video_module.read_clip(path, num_frames=16)
    assert sparse_ids(frames) == list(range(10)) and play_fps == 1.0


def test_sparse_frames_are_sampled_by_their_timestamps(tmp_path):
    """Frames at 0, 0.07, 1, 3, 5, 8, 12, 16, 21 and 27 s: start, end and fps are real seconds."""
    path = make_sparse(tmp_path / "uneven.avi", times="N*N/3")
    info = probe_video(path)
    np.testing.assert_allclose(info.frame_times, [0, 1 / 15, 1, 3, 5, 8, 12, 16, 21, 27], atol=1e-4)
    assert sparse_ids(read_video(path, sampling="fps", fps=0.25)) == [0, 3, 5, 6, 7, 7, 8]  # shown at 0, 4, ... 24 s
    assert sparse_ids(read_video(path, sampling="first", num_frames=3, start=10.0)) == [
        5,
        6,
        7,
    ]  # from the frame shown at 10 s
    assert sparse_ids(read_video(path, sampling="uniform", num_frames=2, end=6.0)) == [1, 3]  # of the 5 before 6 s
    assert sparse_ids(read_video(path, sampling="fps", fps=1.0, start=13.0, end=17.0)) == [6, 6, 6, 7]
    stream = video_module.stream_video(path, chunk_len=4, fps=0.5, start=20.0)
    assert [sparse_ids(chunk) for chunk in stream.chunks] == [[7, 8, 8, 8]]  # shown at 20, 22, 24, 26 s
    from playground.clips import VideoClip, read_clip_frames

    clip = read_clip_frames(VideoClip(path, 4, "uneven#4"), clip_len=3, size=None).frames
    assert sparse_ids(clip) == [4, 5, 6]  # a clip's first frame is a frame number, whatever the times


def test_a_truncated_sparse_file_is_still_refused(tmp_path):
    whole = make_sparse(
        tmp_path / "sparse.mkv",
        frames=np.random.default_rng(0).integers(0, 256, (10, 48, 64, 3), dtype=np.uint8),
        codec="mpeg4",
    )
    assert probe_video(whole).num_frames == 10
    (tmp_path / "cut.mkv").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # its header keeps 28 s
    for call in (probe_video, read_video):
        with pytest.raises(
            PlaygroundError, match="truncated: its header says 28.00 s but its frames cover only"
        ) as err:
            call(tmp_path / "cut.mkv")
        assert "\n" not in str(err.value)


# ---- the bad-input matrix ----------------------------------------------------------------


def _bad_inputs(d: Path) -> dict[str, Path]:
    good = (d / "clip.mp4").read_bytes()
    cases = {"missing": d / "nope.mp4", "directory": d}
    (d / "empty.mp4").write_bytes(b"")
    cases["empty"] = d / "empty.mp4"
    (d / "text.mp4").write_bytes(b"this is not a video at all, just some words in a file\n" * 20)
    cases["text bytes"] = d / "text.mp4"
    (d / "noise.mkv").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    cases["random bytes"] = d / "noise.mkv"
    (d / "truncated.mp4").write_bytes(good[: len(good) // 2])
    cases["truncated mp4"] = d / "truncated.mp4"
    (d / "header_only.mp4").write_bytes(good[:200])
    cases["header only"] = d / "header_only.mp4"
    make_testsrc(d / "long.mkv", size="64x48", rate=25, seconds=4.0)
    long_mkv = (d / "long.mkv").read_bytes()
    (d / "truncated.mkv").write_bytes(long_mkv[: len(long_mkv) // 3])  # mkv opens when cut; its header keeps 4 s
    cases["truncated mkv"] = d / "truncated.mkv"
    make_testsrc(d / "faststart.mp4", size="64x48", rate=25, seconds=2.0, extra=["-movflags", "+faststart"])
    faststart = (d / "faststart.mp4").read_bytes()
    (d / "truncated_faststart.mp4").write_bytes(faststart[: len(faststart) // 2])  # index intact, frames missing
    cases["truncated faststart mp4"] = d / "truncated_faststart.mp4"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440", "-t", "0.5", str(d / "audio.m4a"))
    cases["audio only"] = d / "audio.m4a"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x64:rate=10", "-frames:v", "0", str(d / "zero.mp4"))
    cases["zero frames"] = d / "zero.mp4"
    Image.new("RGB", (64, 48), (200, 10, 10)).save(d / "still.png")
    cases["png image"] = d / "still.png"
    Image.new("RGB", (64, 48), (200, 10, 10)).save(d / "still.mp4", format="JPEG")  # an image behind a video suffix
    cases["jpeg named .mp4"] = d / "still.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "color=size=8320x16:rate=5", "-frames:v", "1", "-pix_fmt", "yuv420p", str(d / "wide.mp4")
    )
    cases["absurd size"] = d / "wide.mp4"
    return cases


BAD = [
    "missing",
    "directory",
    "empty",
    "text bytes",
    "random bytes",
    "truncated mp4",
    "truncated mkv",
    "truncated faststart mp4",
    "header only",
    "audio only",
    "zero frames",
    "png image",
    "jpeg named .mp4",
    "absurd size",
]
EXPECT = {
    "missing": "no such file",
    "directory": "directory",
    "empty": "empty",
    "audio only": "audio",
    "png image": "still PNG",
    "jpeg named .mp4": "still JPEG",
    "absurd size": "8320x16",
    "zero frames": "zero frames",
    "truncated mkv": "truncated",
}


@pytest.fixture(scope="module")
def bad_inputs(media) -> dict[str, Path]:
    return _bad_inputs(media)


@pytest.mark.parametrize("case", BAD)
@pytest.mark.parametrize("call", [probe_video, read_video, as_clips])
def test_bad_file_raises_one_line(bad_inputs, case, call):
    with pytest.raises(PlaygroundError) as err:
        call(bad_inputs[case])
    message = str(err.value)
    assert "\n" not in message and 0 < len(message) < 300
    assert "Traceback" not in message and "video_reader.cc" not in message
    assert EXPECT.get(case, "") in message


@pytest.mark.parametrize(
    "knobs",
    [
        dict(num_frames=-1),
        dict(num_frames=0),
        dict(num_frames=2.5),
        dict(sampling="random"),
        dict(sampling="fps"),
        dict(sampling="fps", fps=0),
        dict(sampling="fps", fps=-3.0),
        dict(fps=float("nan")),
        dict(start=-1.0),
        dict(start=99.0),
        dict(start=0.5, end=0.2),
        dict(max_side=0),
    ],
)
def test_bad_knobs_raise_one_line(media, knobs):
    with pytest.raises(PlaygroundError) as err:
        read_video(media / "clip.mp4", **knobs)
    assert "\n" not in str(err.value)


def test_decode_budget_refuses_huge_outputs(media, monkeypatch):
    monkeypatch.setattr(video_module, "MAX_DECODE_BYTES", 10 * 64 * 96 * 3 - 1)
    with pytest.raises(PlaygroundError, match="GiB"):
        read_video(media / "clip.mp4")
    assert read_video(media / "clip.mp4", num_frames=9).shape[0] == 9


# ---- the read size, decoding at the working size, and the read limits ------------------------


@pytest.fixture(scope="module")
def wide(tmp_path_factory) -> Path:
    """10 frames of 640x360 at 10 fps: larger than READ_SIDE."""
    return make_testsrc(tmp_path_factory.mktemp("wide") / "wide.mp4", size="640x360", extra=["-pix_fmt", "yuv420p"])


def test_files_are_read_at_read_side_unless_asked_for_native(wide, tmp_path):
    assert video_module.READ_SIDE == 480
    assert read_video(wide, num_frames=2).shape == (2, 270, 480, 3)
    assert as_clips(wide, num_frames=2).shape == (1, 2, 270, 480, 3)
    assert video_module.read_clip(wide, num_frames=2)[0].shape == (2, 270, 480, 3)
    assert read_video(wide, num_frames=2, max_side=None).shape == (2, 360, 640, 3)
    portrait = make_testsrc(tmp_path / "portrait.mp4", size="360x640", extra=["-pix_fmt", "yuv420p"])
    assert read_video(portrait, num_frames=1).shape == (1, 480, 270, 3)


def test_frames_are_decoded_at_the_working_size(wide, monkeypatch):
    """No native-size frame reaches Python: the decoder scales, nothing is resized afterwards."""
    native = read_video(wide, num_frames=3, max_side=None)
    expected = resize_frames(native, (270, 480))

    def no_resizing(*args, **kwargs):
        raise AssertionError("a native-size frame was resized in Python")

    monkeypatch.setattr(video_module, "resize_frames", no_resizing)
    frames = read_video(wide, num_frames=3)
    assert frames.shape == (3, 270, 480, 3)
    assert np.abs(frames.astype(int) - expected).mean() < 3  # the decoder's bilinear scaler, not Python's


def test_ffmpeg_fallback_decodes_at_the_working_size_too(wide, ramp, monkeypatch):
    by_decord = read_video(wide, num_frames=3)
    monkeypatch.setattr(video_module, "resize_frames", lambda *a, **k: pytest.fail("resized in Python"))
    monkeypatch.setattr(
        video_module,
        "_decode_indices",
        lambda path, reader, index, height, width, threads=1: video_module._decode_ffmpeg(
            path, index, np.empty((len(index), height, width, 3), np.uint8)
        ),
    )
    np.testing.assert_array_equal(read_video(wide, num_frames=3), by_decord)  # the same scaler, the same bytes
    path, _ = ramp
    assert frame_ids(read_video(path, num_frames=4)) == [5, 15, 25, 35]
    monkeypatch.setattr(video_module, "_SELECT_CHARS", 10)  # a long frame list: ffmpeg keeps a span, Python picks
    assert frame_ids(read_video(path, num_frames=4)) == [5, 15, 25, 35]
    assert frame_ids(read_video(path, sampling="fps", fps=20.0, num_frames=4)) == [0, 0, 1, 1]


@pytest.mark.parametrize(
    "knobs, limit",
    [
        (dict(max_frame_pixels=96 * 64 - 1), "max_frame_pixels"),
        (dict(max_frames=9), "max_frames"),
        (dict(num_frames=5, max_frames=4), "max_frames"),
        (dict(max_pixels=10 * 96 * 64 - 1), "max_pixels"),
    ],
)
def test_read_limits_refuse_in_one_line_naming_the_argument(media, knobs, limit):
    with pytest.raises(video_module.DecodeLimitError) as err:
        read_video(media / "clip.mp4", **knobs)
    message = str(err.value)
    assert err.value.limit == limit and f"raise {limit}" in message
    assert "\n" not in message and len(message) < 300
    reworded = err.value.remedy({limit: "raise --the-flag"})
    assert str(reworded).endswith("; raise --the-flag") and isinstance(reworded, PlaygroundError)


def test_read_limits_pass_at_the_limit_and_none_lifts_them(media):
    clip = media / "clip.mp4"
    assert read_video(clip, max_frame_pixels=96 * 64, max_frames=10, max_pixels=10 * 96 * 64).shape[0] == 10
    assert read_video(clip, max_frame_pixels=None, max_frames=None, max_pixels=None).shape[0] == 10
    assert read_video(clip, max_pixels=10 * 48 * 32, max_side=48).shape == (
        10,
        32,
        48,
        3,
    )  # counted at the working size
    for bad in (dict(max_pixels=0), dict(max_frames=-1), dict(max_frame_pixels=2.5), dict(max_frames=True)):
        with pytest.raises(PlaygroundError, match="positive integer or None"):
            read_video(clip, **bad)


def test_a_path_without_num_frames_does_not_decode_unbounded_frames(tmp_path, monkeypatch):
    """`gaze(path)` reads every frame; past MAX_READ_FRAMES it is refused before anything is decoded."""
    from playground import load_gazer

    many = video_module.MAX_READ_FRAMES + 76
    path = make_testsrc(
        tmp_path / "long.mp4", size="32x32", rate=100, seconds=many / 100, extra=["-pix_fmt", "yuv420p"]
    )
    monkeypatch.setattr(video_module, "_decode_indices", lambda *a, **k: pytest.fail("decoded every frame"))
    with pytest.raises(video_module.DecodeLimitError) as err:
        load_gazer("greedy").gaze(path)
    assert f"{many:,} frames" in str(err.value) and "num_frames" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(video_module.DecodeLimitError):
        as_clips(path)


# ---- resize, chunk, tile -----------------------------------------------------------------


def halves(h=40, w=80) -> np.ndarray:
    """(1, h, w, 3): red left half, blue right half."""
    frame = np.zeros((1, h, w, 3), np.uint8)
    frame[:, :, : w // 2, 0] = 255
    frame[:, :, w // 2 :, 2] = 255
    return frame


def test_resize_policies():
    frame = halves()
    assert resize_frames(frame, 32, "squash").shape == (1, 32, 32, 3)
    crop = resize_frames(frame, 32, "crop")  # scaled to 32x64, the centre 32 columns kept: still half red, half blue
    assert crop.shape == (1, 32, 32, 3)
    assert crop[0, :, 2, 0].min() > 200 and crop[0, :, -3, 2].min() > 200
    pad = resize_frames(frame, 32, "pad")  # scaled to 16x32, centred: 8 black rows above and below
    assert pad.shape == (1, 32, 32, 3)
    assert pad[0, :8].max() == 0 and pad[0, -8:].max() == 0 and pad[0, 8:24, 2, 0].min() > 200
    assert resize_frames(np.zeros((2, 3, 40, 80, 3), np.uint8), (20, 10)).shape == (2, 3, 20, 10, 3)
    with pytest.raises(PlaygroundError):
        resize_frames(frame, 32, "stretch")


def test_chunk_frames():
    frames = np.arange(35, dtype=np.uint8)[:, None, None, None].repeat(8, 1).repeat(8, 2).repeat(3, 3)
    clips = chunk_frames(frames, 16)
    assert [len(c) for c in clips] == [16, 16, 16]
    assert clips[2][:3, 0, 0, 0].tolist() == [32, 33, 34] and set(clips[2][3:, 0, 0, 0].tolist()) == {34}
    assert [len(c) for c in chunk_frames(frames, 16, pad=None)] == [16, 16, 3]
    with pytest.raises(PlaygroundError):
        chunk_frames(frames, 0)


@pytest.mark.parametrize(
    "size,tile,overlap",
    [((300, 500), 224, 0), ((300, 500), 224, 32), ((224, 224), 224, 0), ((100, 150), 64, 16), ((50, 300), 224, 0)],
)
def test_tile_round_trip(size, tile, overlap):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (2, *size, 3), dtype=np.uint8)
    tiles, layout = tile_frames(frames, tile, overlap)
    assert tiles.shape == (layout.num_tiles, 2, tile, tile, 3)
    np.testing.assert_array_equal(untile_frames(tiles, layout), frames)
    covered = np.zeros(size, bool)
    for k in range(layout.num_tiles):
        y0, x0, y1, x1 = layout.to_frame(k, np.array([[0, 0, tile, tile]]))[0]
        covered[y0:y1, x0:x1] = True
        if y1 - y0 == tile and x1 - x0 == tile:  # a tile fully inside the frame holds exactly that region
            np.testing.assert_array_equal(tiles[k, 0], frames[0, y0:y1, x0:x1])
    assert covered.all()


def test_tile_count_for_high_resolution():
    tiles, layout = tile_frames(np.zeros((1, 720, 1280, 3), np.uint8), 224)
    assert (layout.rows, layout.cols) == (4, 6) and tiles.shape[0] == 24


# ---- writing -----------------------------------------------------------------------------


def test_write_video_odd_size_and_atomic(tmp_path):
    frames = np.random.default_rng(2).integers(0, 256, (5, 31, 47, 3), dtype=np.uint8)
    out = write_video(tmp_path / "sub" / "odd.mp4", frames, fps=5)
    assert out.exists() and [p.name for p in out.parent.iterdir()] == ["odd.mp4"]  # no temp file left
    back = read_video(out)
    assert back.shape == (5, 32, 48, 3)  # padded to even sides for yuv420p
    info = probe_video(out)
    assert info.fps == pytest.approx(5.0) and info.num_frames == 5


def test_write_video_bad_input_leaves_nothing(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(PlaygroundError):
        write_video(tmp_path / "afile" / "out.mp4", np.zeros((2, 16, 16, 3), np.uint8))
    with pytest.raises(PlaygroundError):
        write_video(tmp_path / "a.mp4", np.zeros((2, 16, 16, 3), np.float32))
    with pytest.raises(PlaygroundError):
        write_video(tmp_path / "b.mp4", np.zeros((2, 16, 16, 3), np.uint8), fps=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
