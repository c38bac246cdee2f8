"""`python -m playground gaze`: outputs end to end on the example clip, and the bad-input matrix."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import EXAMPLE_VIDEO, ROOT

from playground import PlaygroundError
from playground.cli import main
from playground.run_card import EXPORT_FILES
from playground.video import read_video
from playground.video_run import GAZE_FORMAT, read_gaze_json, tile_gazes


def test_gaze_writes_every_output(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["gaze", str(EXAMPLE_VIDEO), "--threshold", "0.2", "--frames", "8", "--out", str(out)])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPORT_FILES)  # the app's Export files
    data = json.loads((out / "gaze.json").read_text())
    assert data["format"] == GAZE_FORMAT and [len(c["tiles"]) for c in data["chunks"]] == [1]  # one chunk, one tile
    assert data["read_size"] == [480, 270] and data["layout"]["tile"] == 0
    gaze = tile_gazes(data)[0][0]
    assert gaze.num_frames == 8 and gaze.gazer == "greedy"
    tile = data["chunks"][0]["tiles"][0]
    assert len(tile["gaze"]["num_gazing_each_frame"]) == 8 and tile["box"] == [0, 0, 270, 480]
    assert [len(b) for b in tile["boxes"]] == gaze.counts()[0].tolist()  # every gazed patch, in frame pixels
    assert len(tile["reconstruction"]["psnr_db"]) == len(tile["reconstruction"]["ssim"]) == 8
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["frame"]) for r in rows] == list(range(8))
    assert sum(int(r["gazed"]) for r in rows) == gaze.num_gazed
    assert all(float(r["measured_loss"]) <= 0.2 + 1e-6 or int(r["gazed"]) > 0 for r in rows)
    assert read_video(out / "overlay.mp4").shape[0] == 8
    assert read_video(out / "reconstruction.mp4").shape[1:] == (270, 480, 3)  # the clip's aspect, as the app's
    printed = capsys.readouterr().out
    assert "slots kept" in printed and "PSNR" in printed


def test_autogaze_restarts_its_caches_every_clip_len_frames(tmp_path):
    from playground.gazers.autogaze import load_autogaze
    from playground.synthetic import moving_square

    npy = tmp_path / "clip.npy"
    np.save(npy, moving_square(6, 64, 64))
    model = ROOT / "tests" / "fixtures" / "autogaze" / "tiny_seed0"
    for clip_len in (3, 0):
        out = tmp_path / f"run{clip_len}"
        code = main(
            [
                "gaze",
                str(npy),
                "--gazer",
                str(model),
                "--gazing-ratio",
                "0.2",
                "--frames",
                "6",
                "--clip-len",
                str(clip_len),
                "--threshold",
                "0",
                "--out",
                str(out),
            ]
        )
        assert code == 0
        gaze = tile_gazes(read_gaze_json(out / "gaze.json"))[0][0]
        expected = load_autogaze(str(model), clip_len=clip_len or None).gaze(moving_square(6, 64, 64), gazing_ratio=0.2)
        assert gaze.gazing_pos.tolist() == expected.gazing_pos.tolist()
        assert gaze.settings["clip_len"] == (clip_len or None)


def test_module_entry_point_runs_as_a_program(tmp_path):
    npy = tmp_path / "clip.npy"
    from playground.synthetic import moving_square

    np.save(npy, moving_square(4))
    proc = subprocess.run(
        [sys.executable, "-m", "playground", "gaze", str(npy), "--gazer", "framediff", "--out", str(tmp_path / "o")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "overlay.mp4").stat().st_size > 0


def _bad_inputs(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video at all, just some text " * 20)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(EXAMPLE_VIDEO.read_bytes()[:4000])
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((4, 32, 32), np.float32))
    return {
        "missing": [str(tmp_path / "nope.mp4")],
        "empty": [str(empty)],
        "text": [str(text)],
        "truncated": [str(truncated)],
        "wrong-array": [str(wrong)],
        "directory": [str(tmp_path)],
        "bad-ratio": [str(EXAMPLE_VIDEO), "--gazing-ratio", "0"],
        "bad-frames": [str(EXAMPLE_VIDEO), "--frames", "-3"],
        "bad-fps": [str(EXAMPLE_VIDEO), "--fps", "abc"],
        "bad-clip-len": [str(EXAMPLE_VIDEO), "--clip-len", "-1"],
        "bad-gazer": [str(EXAMPLE_VIDEO), "--gazer", str(tmp_path / "no_such_model")],
        "bad-reconstructor": [str(EXAMPLE_VIDEO), "--reconstructor", str(tmp_path / "no_such.pt")],
        "start-after-end": [str(EXAMPLE_VIDEO), "--start", "999"],
        "bad-stop": [str(EXAMPLE_VIDEO), "--stop", "exact"],
        "stop-needs-paint": [str(EXAMPLE_VIDEO), "--stop", "measured", "--reconstructor", "bfshi/VideoMAE_AutoGaze"],
    }


def test_cli_api_and_app_read_the_same_frames(monkeypatch):
    """One read size (video.READ_SIDE) for every entry point: the same experiment gets the same frames."""
    from playground import load_gazer
    from playground.app import pipeline
    from playground.app.limits import Limits
    from playground.cli import build_parser, read_frames
    from playground.gazers.greedy import GreedyGazer
    from playground.video import probe_video, sample_indices

    cli, _ = read_frames(build_parser().parse_args(["gaze", str(EXAMPLE_VIDEO), "--frames", "16"]))
    limits = Limits()
    app = pipeline.load_clip(str(EXAMPLE_VIDEO), pipeline.RunSettings(num_frames=16).checked(limits), limits).frames
    seen = []
    start = GreedyGazer._start
    monkeypatch.setattr(GreedyGazer, "_start", lambda self, clips: seen.append(clips) or start(self, clips))
    load_gazer("greedy").gaze(EXAMPLE_VIDEO, gazing_ratio=0.004)  # a path: every frame, at the default read size
    api = seen[0][0][sample_indices(probe_video(EXAMPLE_VIDEO), 16)]
    assert cli.shape == app.shape == api.shape == (16, 270, 480, 3)
    assert cli.tobytes() == app.tobytes() == api.tobytes()


def test_max_side_flag(capsys):
    from playground.cli import build_parser, read_frames

    parser = build_parser()
    assert read_frames(parser.parse_args(["gaze", str(EXAMPLE_VIDEO), "--frames", "2", "--max-side", "0"]))[
        0
    ].shape == (2, 360, 640, 3)  # 0 = native size
    assert read_frames(parser.parse_args(["gaze", str(EXAMPLE_VIDEO), "--frames", "2", "--max-side", "320"]))[
        0
    ].shape == (2, 180, 320, 3)
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["gaze", str(EXAMPLE_VIDEO), "--max-side", "4"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit):
        main(["gaze", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--max-side PX" in text and "default 480" in text and "--max-pixels N" in text and "--max-frames N" in text


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--max-pixels", "1000"], "--max-pixels"),
        (["--frames", "8", "--max-frames", "4"], "--max-frames"),
        (["--max-frame-pixels", "1000"], "--max-frame-pixels"),
    ],
)
def test_read_limits_exit_2_naming_the_flag(flags, named, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["gaze", str(EXAMPLE_VIDEO), *flags, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and f"raise {named}" in err and "\n" not in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "empty",
        "text",
        "truncated",
        "wrong-array",
        "directory",
        "bad-ratio",
        "bad-frames",
        "bad-fps",
        "bad-clip-len",
        "bad-gazer",
        "bad-reconstructor",
        "start-after-end",
        "bad-stop",
        "stop-needs-paint",
    ],
)
def test_bad_input_exits_2_with_one_line(case, tmp_path, capsys):
    args = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    with (
        pytest.raises(SystemExit)
        if case.startswith(("bad-f", "bad-clip", "bad-stop")) or case == "bad-ratio"
        else _no_raise()
    ):
        code = main(["gaze", *args, "--out", str(out)])
        assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    assert not out.exists(), "a failed run must not leave outputs behind"


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_gaze_json_is_one_versioned_schema_and_old_files_still_load(tmp_path):
    """Untiled and tiled runs write the same schema (`GAZE_FORMAT`); the two older files are read and upgraded."""
    from playground import load_reconstructor
    from playground.synthetic import moving_square

    npy = tmp_path / "clip.npy"
    np.save(npy, moving_square(4, 64, 64))
    runs = {}
    for name, extra in (("plain", []), ("tiled", ["--tile", "32", "--frames", "all"])):
        assert (
            main(["gaze", str(npy), "--frames", "4", "--gazing-ratio", "0.2", *extra, "--out", str(tmp_path / name)])
            == 0
        )
        runs[name] = json.loads((tmp_path / name / "gaze.json").read_text())
    plain, tiled = runs["plain"], runs["tiled"]
    for data in (plain, tiled):
        assert data["format"] == GAZE_FORMAT
        assert set(data) == {
            "format",
            "source",
            "read_size",
            "layout",
            "gazer",
            "reconstructor",
            "settings",
            "chunks",
            "totals",
        }
        tile = data["chunks"][0]["tiles"][0]
        assert set(tile) == {"tile", "box", "gaze", "boxes", "reconstruction"}
        assert {"frames", "tiles", "slots_kept", "slots_total", "psnr_db", "exact_frames"} <= set(data["totals"])
    assert [len(c["tiles"]) for c in tiled["chunks"]] == [4] and tiled["totals"]["tiles"] == 4
    # An untiled gaze.json as written before the one schema: the gaze's dict with the rebuild's numbers mixed in.
    gaze = tile_gazes(plain)[0][0]
    rec = load_reconstructor("paint").reconstruct(moving_square(4, 64, 64), gaze)
    old = {
        **gaze.to_json(),
        "reconstruction": {
            "name": "paint",
            "loss": rec.loss[0].tolist(),
            "psnr_db": 20.5,
            "ssim": 0.5,
            "slots_kept": gaze.num_gazed,
        },
        "read_size": [64, 64],
    }
    (tmp_path / "old.json").write_text(json.dumps(old))
    back = read_gaze_json(tmp_path / "old.json")
    assert back["format"] == GAZE_FORMAT and back["read_size"] == [64, 64] and back["reconstructor"] == "paint"
    assert tile_gazes(back)[0][0].gazing_pos.tolist() == gaze.gazing_pos.tolist()
    assert back["chunks"][0]["tiles"][0]["reconstruction"]["loss"] == rec.loss[0].tolist()
    assert back["totals"]["slots_kept"] == gaze.num_gazed and back["totals"]["psnr_db"] == 20.5
    (tmp_path / "old_tiled.json").write_text(json.dumps({**tiled, "format": "playground.tiled-gaze/1"}))
    assert read_gaze_json(tmp_path / "old_tiled.json") == tiled
    (tmp_path / "other.json").write_text(json.dumps({"format": "someone-else/9"}))
    with pytest.raises(PlaygroundError, match="not a gaze.json this version reads"):
        read_gaze_json(tmp_path / "other.json")


TINY_GAZER = ROOT / "tests" / "fixtures" / "autogaze" / "tiny_seed0"  # random weights: its head predicts badly


@pytest.mark.parametrize("tiled", [False, True])
def test_a_frame_measured_over_the_threshold_is_flagged(tiled, tmp_path, capsys):
    """A learned gazer's predicted stop: the summary, gaze.json's totals and the card set the predicted loss beside
    the measured one and name the frames whose measured loss exceeds the threshold by more than 25 %."""
    from playground.synthetic import random_scene

    npy = tmp_path / "clip.npy"
    np.save(npy, random_scene(3, num_frames=4, size=64))
    out = tmp_path / "run"
    # The tiny head predicts a loss under 0.2 after one gaze; paint then measures about 1.2 on these frames.
    assert (
        main(
            [
                "gaze",
                str(npy),
                "--gazer",
                str(TINY_GAZER),
                "--threshold",
                "0.2",
                "--gazing-ratio",
                "0.3",
                *(["--tile", "32"] if tiled else []),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    totals = read_gaze_json(out / "gaze.json")["totals"]
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    over = [int(r["frame"]) for r in rows if float(r["reconstruction_loss"]) > 0.25]
    assert over and totals["frames_over_threshold"] == over and totals["loss_kind"] == "predicted"
    assert all(r["predicted_loss"] != "" and r["measured_loss"] == "" for r in rows)  # the one column set
    assert all((r["ssim"] == "") == tiled for r in rows)  # SSIM is not measured with tiles
    line = next(line for line in printed.splitlines() if line.startswith("loss check"))
    assert (
        f"predicted loss (gazer) {totals['gazer_loss']:.4f}, measured loss {totals['reconstruction_loss']:.4f}" in line
        and f"{len(over)} of 4 frame(s) measured over the threshold by more than 25 %" in line
    )
    assert "threshold      none (predicted loss of the head)" in printed  # calibrated or not, tiled or not
    card = json.loads((out / "run_card.json").read_text())
    assert card["results"]["frames_over_threshold"] == over and card["settings"]["stop"] == "predicted"


def test_stop_measured_meets_the_threshold_with_paint(tmp_path, capsys):
    from playground.synthetic import random_scene

    npy = tmp_path / "clip.npy"
    np.save(npy, random_scene(5, num_frames=3, size=64))
    out = tmp_path / "run"
    t, ratio = 0.3, 0.3
    assert (
        main(
            [
                "gaze",
                str(npy),
                "--gazer",
                str(TINY_GAZER),
                "--threshold",
                str(t),
                "--gazing-ratio",
                str(ratio),
                "--stop",
                "measured",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    data = read_gaze_json(out / "gaze.json")
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    budget = int(np.float32(ratio) * np.float32(265))
    assert all(float(r["reconstruction_loss"]) <= t or int(r["gazed"]) == budget for r in rows)
    assert any(int(r["gazed"]) < budget for r in rows)  # the threshold, not only the cap, ended frames
    assert all(r["measured_loss"] == r["reconstruction_loss"] for r in rows)  # the gazer measured paint's loss
    assert data["settings"]["stop"] == "measured" and data["totals"]["frames_over_threshold"] is None
    card = json.loads((out / "run_card.json").read_text())
    assert card["settings"]["stop"] == "measured"
    assert "stop=measured" in capsys.readouterr().out
