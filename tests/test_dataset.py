"""`python -m playground gaze-dataset`: rows, tiles, engines, resume, errors, labels and bad input.

The set is made in code (moving squares, 32 frames of 64 x 96 px: two 16-frame clips a video) and
gazed by the `random` gazer (seeded per call, so rows do not depend on the process that made
them) or `greedy` where a measured trace matters, so every run here takes seconds (Ray's start
takes most of the one Ray test).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import ROOT

from playground import load_gazer, load_reconstructor
from playground.cli import build_parser, main
from playground.cli.dataset import settings_of
from playground.clips import VideoClip, clip_key, read_clip_frames
from playground.dataset import SCHEMA, find_inputs, gaze_dataset
from playground.dataset.job import gaze_of_row, label_of_row
from playground.synthetic import moving_square
from playground.tiling import tile_layout
from playground.training.labels import read_labels
from playground.video import write_video

H, W = 64, 96
BASE = [
    "--gazer",
    "random",
    "--clips",
    "all",
    "--tile",
    "64",
    "--reconstructor",
    "paint",
    "--shard-clips",
    "2",
    "--quiet",
]  # 6 clips of 2 tiles, shards of 2 clips


def _video(seed: int, frames: int = 32) -> np.ndarray:
    """A moving square on ramps, shifted and tinted by `seed` so that every video differs."""
    video = np.roll(moving_square(frames, H, W), 7 * seed, axis=2).astype(np.int16)
    video[..., seed % 3] += 20 * seed
    return np.clip(video, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("videos")
    for i in range(3):
        write_video(root / "set" / "train" / f"v{i}.mp4", _video(i), fps=8, preset="ultrafast")
    return root / "set"


@pytest.fixture(scope="module")
def one_process(videos, tmp_path_factory) -> Path:
    """The reference run: every clip in this process."""
    out = tmp_path_factory.mktemp("one") / "ds"
    assert main(["gaze-dataset", str(videos), "--out", str(out), *BASE]) == 0
    return out


def _rows(out: Path) -> list[dict]:
    """Every row but its timing, in a fixed order (engines write rows in the order clips finish)."""
    rows = pq.read_table(out / "shards").drop_columns(["seconds"]).to_pylist()
    return sorted(rows, key=lambda r: (r["video_path"], r["clip_start"], r["tile"]))


def _exit_code(argv: list[str]) -> int:
    """main's status, or argparse's (it exits rather than returns)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


# ---- the rows and their schema ----------------------------------------------------------------


def test_rows_read_back_with_the_documented_schema(one_process):
    table = pq.read_table(one_process / "shards")
    assert table.schema.equals(SCHEMA, check_metadata=False)
    # docs/datasets.md lists every column with its type and nullability, in order.
    doc = (ROOT / "docs" / "datasets.md").read_text()
    documented = re.findall(r"^\| `(\w+)` \| `([^`]+)` \| (yes|no) \|", doc, re.M)
    assert documented == [(f.name, str(f.type).replace("element: ", ""), "yes" if f.nullable else "no") for f in SCHEMA]
    rows = table.to_pylist()
    assert len(rows) == 6 * 2 and len(list((one_process / "shards").glob("shard-*.parquet"))) == 3
    for row in rows:
        gaze = gaze_of_row(row)  # the official dict of one clip, checked by GazeResult
        assert row["num_gazing_each_frame"] and len(row["gazing_pos"]) == sum(row["num_gazing_each_frame"])
        assert row["tokens_kept"] == gaze.num_gazed and row["tokens_total"] == 16 * 265
        assert row["gazer_loss"] is None  # random has no loss trace
        assert len(row["loss"]) == 16 and all(v >= 0 for v in row["loss"])
    manifest = json.loads((one_process / "manifest.json").read_text())
    assert manifest["counts"]["total_rows"] == 12 and manifest["settings"]["tile"] == 64
    assert manifest["versions"]["gazer"]["name"] == "random" and manifest["columns"] == SCHEMA.names
    assert (one_process / "errors.jsonl").read_text() == ""


def test_tiles_are_one_row_each_and_match_gazing_the_tile_alone(videos, tmp_path):
    out = tmp_path / "ds"
    video = videos / "train" / "v1.mp4"
    assert (
        main(["gaze-dataset", str(video), "--out", str(out), "--tile", "64", "--reconstructor", "paint", "--quiet"])
        == 0
    )
    rows = _rows(out)
    assert [r["tile"] for r in rows] == [0, 1] and {r["num_tiles"] for r in rows} == {2}
    assert [r["tile_box"] for r in rows] == [[0, 0, 64, 64], [0, 64, 64, 96]]  # the second is cut at the edge
    frames = read_clip_frames(VideoClip(video, 0, ""), 16, None, None).frames
    tiles = tile_layout(H, W, 64).cut(frames)
    greedy, paint = load_gazer("greedy"), load_reconstructor("paint")
    for row, tile in zip(rows, tiles):
        alone = greedy.gaze(tile, gazing_ratio=0.75, task_loss_requirement=0.2)
        assert gaze_of_row(row).gazing_pos.tolist() == alone.gazing_pos.tolist()
        np.testing.assert_allclose(row["gazer_loss"], alone.loss[0].numpy(), rtol=1e-6)
        np.testing.assert_allclose(row["loss"], paint.reconstruct(tile, alone).loss[0].numpy(), rtol=1e-5)


def test_tile_boxes_are_in_the_videos_own_pixels_when_read_smaller(videos, tmp_path):
    out = tmp_path / "ds"
    assert (
        main(
            [
                "gaze-dataset",
                str(videos / "train" / "v0.mp4"),
                "--out",
                str(out),
                "--gazer",
                "random",
                "--tile",
                "16",
                "--max-side",
                "48",
                "--quiet",
            ]
        )
        == 0
    )
    rows = _rows(out)
    assert {tuple(r["read_size"]) for r in rows} == {(32, 48)} and {tuple(r["source_size"]) for r in rows} == {(H, W)}
    assert [r["tile_box"] for r in rows] == [[y, x, y + 32, x + 32] for y in (0, 32) for x in (0, 32, 64)]


# ---- engines --------------------------------------------------------------------------------


def test_a_worker_pool_gives_the_same_rows_as_one_process(videos, one_process, tmp_path):
    out = tmp_path / "ds"
    assert main(["gaze-dataset", str(videos), "--out", str(out), *BASE, "--workers", "2"]) == 0
    assert _rows(out) == _rows(one_process)


def test_ray_gives_the_same_rows_as_one_process(videos, one_process, tmp_path):
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        out = tmp_path / "ds"
        assert main(["gaze-dataset", str(videos), "--out", str(out), *BASE, "--ray"]) == 0
    finally:
        ray.shutdown()
    assert _rows(out) == _rows(one_process)
    assert json.loads((out / "manifest.json").read_text())["run"]["engine"] == "ray"


# ---- resume and errors ----------------------------------------------------------------------


def test_an_interrupted_run_resumes_to_the_same_rows(videos, one_process, tmp_path, capsys):
    out = tmp_path / "ds"
    args = build_parser().parse_args(["gaze-dataset", str(videos), "--out", str(out), *BASE])

    def stop_after_the_first_shard(done: int, total: int) -> None:
        if done == 3:  # clips 1-2 are shard 0; clip 3 is buffered
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        gaze_dataset(
            find_inputs(args.inputs), out, settings_of(args), "all", shard_clips=2, progress=stop_after_the_first_shard
        )
    shards = sorted(p.name for p in (out / "shards").iterdir())
    assert shards == ["shard-00000.parquet", "shard-00001.parquet"]  # the buffered clip was written on the way out
    assert len(_rows(out)) == 3 * 2
    # The same command again gazes only the clips left, into new shards.
    assert main(["gaze-dataset", str(videos), "--out", str(out), *BASE]) == 0
    assert "3 clips gazed" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "shards").iterdir())[2:] == ["shard-00002.parquet", "shard-00003.parquet"]
    assert _rows(out) == _rows(one_process)
    # Nothing left: a third run writes nothing.
    assert main(["gaze-dataset", str(videos), "--out", str(out), *BASE]) == 0
    assert "0 clips gazed" in capsys.readouterr().out and len(list((out / "shards").iterdir())) == 4


def test_unreadable_videos_are_error_rows_and_the_rest_is_written(videos, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.mp4").write_bytes((videos / "train" / "v0.mp4").read_bytes())
    (folder / "corrupt.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    write_video(folder / "short.mp4", _video(0, frames=8), fps=8, preset="ultrafast")  # under one clip
    out = tmp_path / "ds"
    assert main(["gaze-dataset", str(folder), "--out", str(out), "--gazer", "random", "--clips", "all", "--quiet"]) == 0
    assert {(r["video_path"], r["clip_start"]) for r in _rows(out)} == {
        (str(folder / "good.mp4"), 0),
        (str(folder / "good.mp4"), 16),
    }
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert sorted(Path(e["video_path"]).name for e in errors) == ["corrupt.mp4", "short.mp4"]
    assert all(e["clip_start"] is None and e["error"] for e in errors)
    err = capsys.readouterr().err
    assert "skipped" in err and "corrupt.mp4" in err


def test_inputs_are_folders_globs_and_lists(videos, tmp_path):
    listing = tmp_path / "lists" / "videos.txt"
    listing.parent.mkdir()
    # A list names a video by an absolute path, one relative to the list's folder, and a folder.
    (tmp_path / "lists" / "near.mp4").write_bytes((videos / "train" / "v2.mp4").read_bytes())
    listing.write_text(f"# my videos\n{videos / 'train' / 'v0.mp4'}\n\nnear.mp4\n{videos}\n")
    found = find_inputs([str(listing), str(videos / "train" / "v1.*")])
    assert found == [
        videos / "train" / "v0.mp4",
        tmp_path / "lists" / "near.mp4",
        videos / "train" / "v1.mp4",
        videos / "train" / "v2.mp4",
    ]  # each once, in the order named
    hidden = videos.parent / ".hidden" / "x.mp4"  # a glob, like a folder, leaves hidden parts out
    hidden.parent.mkdir(exist_ok=True)
    hidden.write_bytes(b"x")
    assert find_inputs([str(videos.parent / "**" / "*.mp4")]) == sorted((videos / "train").glob("*.mp4"))


# ---- labels ---------------------------------------------------------------------------------


def test_labels_equal_the_labels_command(videos, tmp_path):
    command = tmp_path / "labels.json"
    assert main(["labels", str(videos), "--out", str(command), "--clips", "all", "--quiet"]) == 0
    out = tmp_path / "ds"
    assert main(["gaze-dataset", str(videos), "--out", str(out), "--clips", "all", "--labels", "--quiet"]) == 0
    assert json.loads((out / "gazing_labels.json").read_text()) == json.loads(command.read_text())
    labels = read_labels(out / "gazing_labels.json")
    assert len(labels) == 6
    for row in _rows(out):  # whole frames squashed to 224, as training reads them; the box is the whole frame
        assert row["read_size"] == [224, 224] and row["tile_box"] == [0, 0, H, W]
        assert label_of_row(row) == labels[clip_key(row["video_path"], row["clip_start"])]


# ---- bad input ------------------------------------------------------------------------------


def _bad_cases(tmp_path: Path, videos: Path, one_process: Path) -> dict[str, list[str]]:
    (tmp_path / "empty").mkdir()
    (tmp_path / "a_file").write_text("x")
    out = ["--out", str(tmp_path / "out")]
    return {
        "no videos": [str(tmp_path / "empty"), *out],
        "no such input": [str(tmp_path / "nothing.mp4"), *out],
        "empty glob": [str(tmp_path / "empty" / "*.mp4"), *out],
        "unwritable out": [str(videos), "--out", str(tmp_path / "a_file" / "ds")],
        "bad ratio": [str(videos), *out, "--ratio", "1.5"],
        "bad tile": [str(videos), *out, "--tile", "8"],
        "labels of tiles": [str(videos), *out, "--labels", "--tile", "64"],
        "labels without a trace": [str(videos), *out, "--labels", "--gazer", "random"],
        "labels of final losses": [str(videos), *out, "--labels", "--gazer", "framediff"],
        "other settings": [str(videos), "--out", str(one_process), *BASE[:-1], "--ratio", "0.5"],
    }


@pytest.mark.parametrize(
    "case",
    [
        "no videos",
        "no such input",
        "empty glob",
        "unwritable out",
        "bad ratio",
        "bad tile",
        "labels of tiles",
        "labels without a trace",
        "labels of final losses",
        "other settings",
    ],
)
def test_bad_input_exits_2_with_one_line(case, videos, one_process, tmp_path, capsys):
    before = _rows(one_process)
    assert _exit_code(["gaze-dataset", *_bad_cases(tmp_path, videos, one_process)[case], "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists(), "nothing is written before the input is checked"
    assert _rows(one_process) == before


def test_ray_without_ray_installed_says_how_to_install_it(videos, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    assert (
        main(["gaze-dataset", str(videos), "--out", str(tmp_path / "out"), "--gazer", "random", "--quiet", "--ray"])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert "pip install .[ray]" in err and "\n" not in err
    assert not (tmp_path / "out").exists()


# ---- the app's read, and a resume with nothing to do (issue items 3 and 16) ------------------


def test_a_row_is_what_the_app_shows_for_the_same_frames_and_settings(tmp_path):
    """Issue 3: frames read at the app's 480 px by default, so a row's gaze is the app's for the clip's frames."""
    from conftest import EXAMPLE_VIDEO

    from playground.app.limits import Limits
    from playground.app.pipeline import RunSettings, run
    from playground.video import probe_video

    out = tmp_path / "ds"
    assert main(["gaze-dataset", str(EXAMPLE_VIDEO), "--out", str(out), "--quiet"]) == 0
    (row,) = pq.read_table(out / "shards").to_pylist()
    # The app at the manifest's command: the clip's 16 consecutive frames (--fps = the video's rate).
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["max_side"] == 480 and manifest["as_gaze"]["differs"] == []
    assert "--fps FPS --start START" in manifest["as_gaze"]["command"]
    app = run(str(EXAMPLE_VIDEO), RunSettings(num_frames=16, fps=probe_video(EXAMPLE_VIDEO).fps), Limits())
    assert row["read_size"] == [app.clip.read_size[1], app.clip.read_size[0]]
    assert row["tokens_kept"] == app.gaze.num_gazed
    assert row["gazing_pos"] == app.gaze.to_official()["gazing_pos"][0].tolist()
    # The native size is a choice the manifest names as the difference.
    native = tmp_path / "native"
    assert main(["gaze-dataset", str(EXAMPLE_VIDEO), "--out", str(native), "--quiet", "--max-side", "0"]) == 0
    assert "max_side" in json.loads((native / "manifest.json").read_text())["as_gaze"]["differs"][0]


def test_a_resume_with_nothing_to_do_loads_no_gazer_probes_no_video_and_starts_no_engine(
    videos, one_process, tmp_path, monkeypatch, capsys
):
    """Issue 16: a no-op resume only counts (no gazer, no probe of a done video, no Ray), and keeps the manifest."""
    import shutil

    import playground.clips as clips
    import playground.dataset.runner as runner

    out = tmp_path / "ds"
    shutil.copytree(one_process, out)
    before = json.loads((out / "manifest.json").read_text())

    def refuse(*args, **kwargs):
        raise AssertionError("a no-op resume must not do this")

    first = ["--gazer", "random", "--clips", "first", "--quiet"]
    first_out = tmp_path / "first"
    assert main(["gaze-dataset", str(videos), "--out", str(first_out), *first]) == 0
    capsys.readouterr()
    monkeypatch.setattr(runner, "ClipWorker", refuse)
    monkeypatch.setattr(runner, "run_clips", refuse)
    assert main(["gaze-dataset", str(videos), "--out", str(out), *BASE, "--ray"]) == 0  # "all": probed, not gazed
    assert "0 clips gazed" in capsys.readouterr().out
    monkeypatch.setattr(clips, "frame_count", refuse)
    assert main(["gaze-dataset", str(videos), "--out", str(first_out), *first]) == 0  # "first": not even probed
    assert "0 clips gazed (0 rows, 0 shards), 3 already done" in capsys.readouterr().out
    after = json.loads((out / "manifest.json").read_text())
    assert after["versions"]["gazer"] == before["versions"]["gazer"] and after["counts"]["total_rows"] == 12
