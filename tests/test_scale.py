"""Any size and length: the one tiling, streamed reads and writes, whole-video gazing for every gazer,
and `python -m playground gaze --tile PX / --frames all` end to end (issue 14, part 1)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from conftest import FIXTURES

from playground import GazeResult, PlaygroundError, load_gazer, load_reconstructor
from playground.cli import main
from playground.run_card import TILED_EXPORT_FILES
from playground.synthetic import moving_square
from playground.tiling import PAD_RGB, tile_layout
from playground.video import VideoWriter, probe_video, read_video, stream_video, write_video
from playground.whole_video import VideoGazer, frame_chunks

TINY = FIXTURES / "autogaze" / "tiny_seed0"


@pytest.fixture(scope="module")
def wide_video(tmp_path_factory):
    """20 frames of 96x160 (two 16-frame chunks' worth: 16 + 4), as an MP4, and the frames decoded back."""
    path = tmp_path_factory.mktemp("wide") / "wide.mp4"
    write_video(path, moving_square(20, 96, 160), fps=10)
    return path, read_video(path, max_side=None)


# ---- the one tiling -----------------------------------------------------------------------------


def test_layout_pads_right_and_bottom_and_cut_paste_round_trip():
    layout = tile_layout(150, 200, 96)
    assert (layout.rows, layout.cols, layout.padded_shape) == (2, 3, (192, 288))
    frames = np.random.default_rng(0).integers(0, 256, (3, 150, 200, 3), dtype=np.uint8)
    tiles = layout.cut(frames)
    assert tiles.shape == (6, 3, 96, 96, 3)
    assert (tiles[5, :, 54:, :, :] == PAD_RGB).all() and (tiles[5, :, :, 8:, :] == PAD_RGB).all()
    np.testing.assert_array_equal(tiles[4, :, :54, :], frames[:, 96:, 96:192])
    np.testing.assert_array_equal(layout.paste(tiles), frames)
    assert layout.tile_boxes()[5].tolist() == [96, 192, 150, 200]


def test_the_cut_of_a_normalised_tensor_matches_the_cut_of_pixels():
    layout = tile_layout(64, 64, 32)
    x = torch.randn(2, 3, 3, 64, 64)  # (B, T, C, H, W)
    tiles = layout.cut(x, fill=0.0, channels_last=False)
    assert tiles.shape == (4, 2, 3, 3, 32, 32)
    assert torch.equal(tiles[3], x[..., 32:, 32:])


def test_whole_frame_layout_is_the_frame_itself():
    layout = tile_layout(90, 160, None)
    assert layout.whole_frame and layout.num_tiles == 1 and layout.tile_shape == (90, 160)
    frames = moving_square(2, 90, 160)
    assert layout.cut(frames).shape == (1, 2, 90, 160, 3)
    assert layout.canvas_to_frame(0, np.array([[0, 0, 224, 224]]), 224).tolist() == [[0, 0, 90, 160]]


# ---- streamed reading and writing --------------------------------------------------------------


def test_stream_video_reads_chunk_by_chunk_what_read_video_reads(wide_video):
    path, frames = wide_video
    stream = stream_video(path, chunk_len=16)
    chunks = list(stream.chunks)
    assert [len(c) for c in chunks] == [16, 4] and stream.num_frames == 20
    np.testing.assert_array_equal(np.concatenate(chunks), frames)
    spread = stream_video(path, chunk_len=3, num_frames=5, sampling="uniform")
    np.testing.assert_array_equal(np.concatenate(list(spread.chunks)), read_video(path, num_frames=5, max_side=None))


def test_frame_chunks_regroups_runs_of_any_length():
    frames = moving_square(10, 32, 32)
    runs = [frames[:3], frames[3], frames[4:9], frames[9:]]
    out = list(frame_chunks(runs, 4))
    assert [len(c) for c in out] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(out), frames)


def test_video_writer_streams_chunks_and_leaves_nothing_on_error(tmp_path):
    path = tmp_path / "out.mp4"
    with VideoWriter(path, fps=5) as writer:
        for chunk in (moving_square(3, 31, 47), moving_square(2, 31, 47)):
            writer.write(chunk)
    assert probe_video(path).num_frames == 5
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "broken.mp4", fps=5) as writer:
            writer.write(moving_square(2, 32, 32))
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
    with pytest.raises(PlaygroundError, match="must be"):
        with VideoWriter(tmp_path / "mixed.mp4") as writer:
            writer.write(moving_square(1, 32, 32))
            writer.write(moving_square(1, 48, 32))


# ---- whole-video gazing for every gazer -----------------------------------------------------------


@pytest.mark.parametrize("name", ["greedy", "framediff", "random", str(TINY)])
def test_every_gazer_gazes_a_video_by_tiles_and_each_tile_is_its_own_clip(name, wide_video):
    _, frames = wide_video
    gazer = load_gazer(name)
    chunks = list(VideoGazer(gazer, tile=64, batch_size=4).chunks(frames, gazing_ratio=0.1))
    assert [c.start for c in chunks] == [0, 16] and chunks[0].layout.num_tiles == 6
    layout = chunks[1].layout
    direct = load_gazer(name).gaze(layout.cut(frames[16:])[4], gazing_ratio=0.1)
    tile = chunks[1].gaze.clip(4)
    if name == "random":  # its draws depend on the clip's place in the batch: the budget is what must hold
        assert tile.counts().tolist() == direct.counts().tolist()
    else:
        assert tile.gazing_pos.tolist() == direct.gazing_pos.tolist()
    joined = gazer.gaze_video(frames, gazing_ratio=0.1, tile=64, batch_size=4)
    assert joined.num_frames == 20 and joined.gaze.batch_size == 6
    found = joined.boxes(17)
    assert len(found["boxes"]) and found["loss"].shape == (len(found["boxes"]),)
    assert (found["boxes"][:, 2] <= 96).all() and (found["boxes"][:, 3] <= 160).all()


def test_run_video_progress_is_full_only_once_every_chunk_is_drawn_and_written(tmp_path, wide_video, monkeypatch):
    """The written bar reaches its total after the last overlay frame is drawn, never before (issue 24, item 16)."""
    from playground import video_run

    _, frames = wide_video
    events = []
    drawn = video_run.paint_scales
    monkeypatch.setattr(video_run, "paint_scales", lambda *a, **k: events.append(("drew",)) or drawn(*a, **k))
    video_run.run_video(
        frames,
        load_gazer("greedy"),
        load_reconstructor("paint"),
        tmp_path,
        fps=10,
        tile=64,
        batch_size=4,
        gazing_ratio=0.1,
        total_frames=len(frames),
        progress=lambda done, total: events.append(("gazed", done, total)),
        written=lambda done, total: events.append(("written", done, total)),
    )
    written = [e[1] for e in events if e[0] == "written"]
    assert {e[2] for e in events if e[0] != "drew"} == {12}  # 2 chunks x 6 tiles
    assert written == sorted(written) and written[-1] == 12 and written.count(12) == 1
    full = events.index(("written", 12, 12))
    assert full > max(i for i, e in enumerate(events) if e[0] == "drew")  # the last frame drawn first
    assert [e[1] for e in events if e[0] == "gazed"][-1] == 12


# ---- the CLI -----------------------------------------------------------------------------------------


def test_cli_tiles_a_video_and_writes_tiled_outputs(tmp_path, wide_video, capsys):
    path, frames = wide_video
    out = tmp_path / "run"
    assert (
        main(
            [
                "gaze",
                str(path),
                "--tile",
                "64",
                "--frames",
                "all",
                "--gazing-ratio",
                "0.1",
                "--threshold",
                "0",
                "--batch-size",
                "4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(TILED_EXPORT_FILES)  # what the app exports of a tiled run
    data = json.loads((out / "gaze.json").read_text())
    assert data["layout"]["rows"] == 2 and data["layout"]["cols"] == 3 and data["read_size"] == [160, 96]
    assert [c["start"] for c in data["chunks"]] == [0, 16] and len(data["chunks"][1]["tiles"]) == 6
    tile = data["chunks"][1]["tiles"][4]
    assert tile["box"] == [64, 64, 96, 128]
    expected = load_gazer("greedy").gaze(tile_layout(96, 160, 64).cut(frames[16:])[4], gazing_ratio=0.1)
    assert GazeResult.from_json(tile["gaze"]).gazing_pos.tolist() == expected.gazing_pos.tolist()
    boxes = np.array([b for frame in tile["boxes"] for b in frame])
    assert (boxes[:, 0] >= 64).all() and (boxes[:, 2] <= 96).all() and (boxes[:, 1] >= 64).all()
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["frame"]) for r in rows] == list(range(20)) and all(r["tiles"] == "6" for r in rows)
    assert sum(int(r["gazed"]) for r in rows) == data["totals"]["slots_kept"]
    assert read_video(out / "overlay.mp4", max_side=None).shape == (20, 96, 160, 3)
    assert read_video(out / "reconstruction.mp4", max_side=None).shape == (20, 96, 160, 3)
    assert "6 tile(s) of 64 px" in capsys.readouterr().out


def test_cli_frames_all_without_tiles_gazes_every_chunk_of_the_whole_frame(tmp_path, wide_video):
    path, frames = wide_video
    out = tmp_path / "run"
    assert (
        main(
            [
                "gaze",
                str(path),
                "--frames",
                "all",
                "--gazer",
                str(TINY),
                "--gazing-ratio",
                "0.2",
                "--threshold",
                "0",
                "--out",
                str(out),
                "--preview-width",
                "80",
            ]
        )
        == 0
    )
    data = json.loads((out / "gaze.json").read_text())
    assert data["layout"]["tile"] == 0 and [c["num_frames"] for c in data["chunks"]] == [16, 4]
    first = GazeResult.from_json(data["chunks"][0]["tiles"][0]["gaze"])
    assert first.gazing_pos.tolist() == load_gazer(str(TINY)).gaze(frames[:16], gazing_ratio=0.2).gazing_pos.tolist()
    assert read_video(out / "overlay.mp4", max_side=None).shape[1:3] == (48, 80)  # --preview-width


@pytest.mark.parametrize(
    "argv", [["--tile", "8"], ["--frames", "most"], ["--batch-size", "0"], ["--preview-width", "-1"]]
)
def test_cli_refuses_bad_tiling_knobs(argv, wide_video):
    with pytest.raises(SystemExit) as exc:
        main(["gaze", str(wide_video[0]), *argv])
    assert exc.value.code == 2


def test_cli_tiled_run_refuses_an_unreadable_video_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 64)
    assert main(["gaze", str(bad), "--tile", "64", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.mp4" in err[0]
    assert not (tmp_path / "run").exists()


def test_cli_tiled_and_untiled_agree_when_the_tile_is_the_frame(tmp_path):
    npy = tmp_path / "square.npy"
    np.save(npy, moving_square(4, 64, 64))
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["gaze", str(npy), "--frames", "4", "--gazing-ratio", "0.1", "--out", str(a)]) == 0
    assert main(["gaze", str(npy), "--frames", "all", "--tile", "64", "--gazing-ratio", "0.1", "--out", str(b)]) == 0
    plain = GazeResult.from_json(json.loads((a / "gaze.json").read_text())["chunks"][0]["tiles"][0]["gaze"])
    tiled = GazeResult.from_json(json.loads((b / "gaze.json").read_text())["chunks"][0]["tiles"][0]["gaze"])
    assert plain.gazing_pos.tolist() == tiled.gazing_pos.tolist()
    rec = load_reconstructor("paint").reconstruct(moving_square(4, 64, 64), plain)
    assert json.loads((b / "gaze.json").read_text())["totals"]["reconstruction_loss"] == pytest.approx(
        float(rec.loss.mean()), abs=1e-5
    )
