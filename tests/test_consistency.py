"""One experiment, one answer: equal budgets, one PSNR, the same knobs and defaults in the API, CLI and app.

Each test here pins a defect users met (issue 11): Compare at unequal budgets, three PSNR means,
the CLI's defaults differing from the app's, knobs one entry point accepts and another refuses,
bad gaze ids accepted, results of another clip on screen, and a failed run wiping the page.
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch

from playground import GazeResult, PlaygroundError, knobs, load_gazer, load_reconstructor, report
from playground.app import callbacks, pipeline
from playground.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
SQUARE = ROOT / "assets" / "synthetic_square.mp4"
BUNNY = ROOT / "assets" / "bigbuckbunny_clip.mp4"
quiet = pipeline.no_progress


def test_compare_spends_the_same_budget_for_every_gazer_that_can():
    settings = pipeline.RunSettings(num_frames=4).checked(callbacks.LIMITS)  # default threshold 0.2 is on
    clip = pipeline.load_clip(str(BUNNY), settings, callbacks.LIMITS)
    rows, _ = pipeline.compare_gazers(clip, settings, 0.3)
    budget = 4 * int(np.float32(0.3) * np.float32(265))
    by_name = {r["gazer"]: r for r in rows}
    for name in ("greedy", "framediff", "random"):
        assert by_name[name]["slots"] == budget == by_name[name]["budget"], name
    assert by_name["full"]["slots"] == 4 * 196  # full ignores budgets: the no-gazing reference


def test_framediff_without_a_threshold_spends_its_budget(example_clip):
    gaze = load_gazer("framediff").gaze(example_clip[:4], gazing_ratio=0.3)
    assert gaze.counts()[0].tolist() == [int(np.float32(0.3) * np.float32(265))] * 4


def test_gazers_say_whether_they_use_the_threshold():
    assert {n: load_gazer(n).threshold_unit for n in ("greedy", "framediff", "random", "full")} == {
        "greedy": "loss",
        "framediff": "change",
        "random": None,
        "full": None,
    }
    settings = pipeline.RunSettings(num_frames=2, gazer="random").checked(callbacks.LIMITS)
    clip = pipeline.load_clip(str(SQUARE), settings, callbacks.LIMITS)
    assert pipeline.threshold_curve(clip, settings) is None  # nothing to sweep
    figure = callbacks.render.curve_figure(None, 0.2, "random")
    assert "ignores the threshold" in figure.layout.annotations[0].text


def test_one_psnr_definition_everywhere():
    from playground.synthetic import moving_square

    frames = moving_square(2, 64, 64)
    finest = GazeResult.from_frame_slots([[[]]]).grid.finest_slots.tolist()
    gaze = GazeResult.from_frame_slots([[finest, [0, 1, 2]]])  # frame 0 rebuilt exactly, frame 1 not
    rec = load_reconstructor("paint").reconstruct(frames, gaze)
    psnr = rec.psnr[0]
    assert torch.isinf(psnr).any() and torch.isfinite(psnr).any()
    expected = float(psnr[torch.isfinite(psnr)].mean())
    assert report.mean_psnr(rec.psnr) == pytest.approx(expected)
    assert f"{expected:.2f} dB" in rec.summary() and "inf" not in rec.summary()
    assert report.psnr_text(rec.psnr).startswith(f"{expected:.2f} dB (")
    run = pipeline.Run.of_clip(
        pipeline.RunSettings(), pipeline.Clip(frames, 8.0, ("k",), "x.npy", "0", (64, 64), 8.0, 0.5), gaze, rec
    )
    assert f"{expected:.2f} dB" in callbacks.render.summary_markdown(run)
    assert report.totals(gaze, rec)["psnr_db"] == pytest.approx(expected, abs=1e-4)
    assert report.psnr_text(torch.full((1, 3), float("inf"))).startswith("exact")


def test_cli_defaults_are_the_apps_and_help_shows_them(capsys):
    args = build_parser().parse_args(["gaze", "clip.mp4"])
    d = pipeline.RunSettings()
    assert (args.threshold, args.gazing_ratio, args.frames) == (d.threshold, d.gazing_ratio, d.num_frames)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["gaze", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"default {knobs.THRESHOLD:g}" in text and f"default {knobs.GAZING_RATIO:g}" in text


def test_cli_and_app_keep_the_same_slots(tmp_path):
    out = tmp_path / "run"
    assert main(["gaze", str(BUNNY), "--frames", "6", "--out", str(out)]) == 0
    cli = json.loads((out / "gaze.json").read_text())
    page = callbacks.gaze_action(str(BUNNY), num_frames=6, progress=quiet)
    card, view = page["card"], page["view"]
    assert card["video"]["read_size"] == cli["read_size"]
    assert view.run.gaze.num_gazed == cli["totals"]["slots_kept"] == card["results"]["slots_kept"]
    assert card["results"]["psnr_db"] == cli["totals"]["psnr_db"]
    app = json.loads((Path(page["files"][0]).parent / "gaze.json").read_text())
    for data in (cli, app):
        data.pop("source")  # the path given to the CLI, the file's name and hash in the app
        data["totals"].pop("seconds")
        data["chunks"][0]["tiles"][0]["gaze"].pop("seconds")
    assert app == cli  # the one schema: layout, settings, the one chunk's one tile, the totals


def test_cli_and_app_tiled_gaze_give_the_same_result(tmp_path):
    """`gaze VIDEO --tile PX --frames N` and the app's tile size: the same frames, the same video_run path."""
    out = tmp_path / "run"
    assert main(["gaze", str(BUNNY), "--tile", "320", "--frames", "4", "--gazing-ratio", "0.5", "--out", str(out)]) == 0
    cli = json.loads((out / "gaze.json").read_text())
    page = callbacks.gaze_action(str(BUNNY), num_frames=4, ratio=0.5, tile=320, progress=quiet)
    folder = Path(page["files"][0]).parent
    app = json.loads((folder / "gaze.json").read_text())
    for data in (cli, app):
        data.pop("source")  # the path given to the CLI, the file's name in the app
        data["totals"].pop("seconds")
    assert app == cli  # layout, settings, every chunk's tiles: gaze, boxes and rebuild; and the totals
    assert app["totals"]["slots_kept"] > 0 and len(app["chunks"][0]["tiles"]) == 4
    assert (folder / "metrics.csv").read_text() == (out / "metrics.csv").read_text()
    assert page["card"]["results"] == cli["totals"]


def test_cli_app_and_api_accept_the_same_thresholds():
    for value in (-1.0, 0.0, 0.5, knobs.MAX_THRESHOLD):  # negative: predicted losses can be negative
        assert build_parser().parse_args(["gaze", "x.mp4", "--threshold", str(value)]).threshold == value
        assert callbacks.settings_from(4, 0, 0, "greedy", "paint", value, 0.5).threshold == value
        load_gazer("greedy").gaze(np.zeros((1, 16, 16, 3), np.uint8), task_loss_requirement=value)


@pytest.mark.parametrize("value", ["-11", "1e9", "nan"])
def test_cli_app_and_api_refuse_the_same_thresholds(value):
    with pytest.raises(SystemExit) as exc:
        main(["gaze", str(SQUARE), "--threshold", value])
    assert exc.value.code == 2
    with pytest.raises(PlaygroundError, match="threshold"):
        callbacks.settings_from(4, 0, 0, "greedy", "paint", float(value), 0.5)
    with pytest.raises(PlaygroundError, match="task_loss_requirement"):
        load_gazer("greedy").gaze(np.zeros((1, 16, 16, 3), np.uint8), task_loss_requirement=float(value))


def test_cli_refuses_bad_knobs_with_status_2():
    for argv in (
        ["--threshold", "-11"],
        ["--threshold", "1e9"],
        ["--clip-len", "1000000000"],
        ["--fps", "1e9"],
        ["--gazing-ratio", "0"],
    ):
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args(["gaze", str(SQUARE), *argv])
        assert exc.value.code == 2, argv


def test_app_refuses_absurd_fps_and_frame_counts():
    with pytest.raises(PlaygroundError, match="fps"):
        callbacks.settings_from(4, 1e9, 0, "greedy", "paint", 0.2, 0.5)
    with pytest.raises(PlaygroundError, match="frames must be between 1 and"):
        callbacks.settings_from(callbacks.LIMITS.max_frames + 1, 0, 0, "greedy", "paint", 0.2, 0.5)


def test_whole_numbers_are_read_exactly():
    big = 2**53 + 1  # a float cannot hold it: it would come back as 2**53
    for value, expected in (
        (16, 16),
        (np.int64(16), 16),
        (torch.tensor(16), 16),
        (16.0, 16),
        (np.float32(16), 16),
        ("16", 16),
        (" +16 ", 16),
        ("0", 0),
        (str(big), big),
        (big, big),
    ):
        assert knobs.whole_number(value, "frames", 0) == expected, value
    assert type(knobs.whole_number(np.int64(3), "frames")) is int
    for value in (
        1.5,
        "1.5",
        "16.0",
        "1e3",
        "0x10",
        "1_000",
        "",
        "sixteen",
        True,
        np.True_,
        float("inf"),
        float("nan"),
        None,
        [16],
    ):
        with pytest.raises(PlaygroundError, match="frames must be a whole number"):
            knobs.whole_number(value, "frames")
    with pytest.raises(PlaygroundError, match="frames must be between 1 and 4, got -3"):
        knobs.whole_number("-3", "frames", 1, 4)
    assert build_parser().parse_args(["gaze", "x.mp4", "--frames", "12"]).frames == 12
    for text in ("1.5", "1e3"):  # the CLI reads its counts with the same rule
        with pytest.raises(SystemExit):
            build_parser().parse_args(["gaze", "x.mp4", "--frames", text])


def test_api_refuses_unknown_options_and_bool_knobs():
    gazer, clip = load_gazer("greedy"), np.zeros((2, 16, 16, 3), np.uint8)
    with pytest.raises(PlaygroundError, match="frobnicate"):
        gazer.gaze(clip, frobnicate=1)
    with pytest.raises(PlaygroundError, match="frobnicate"):
        list(gazer.stream(clip, frobnicate=1))
    with pytest.raises(PlaygroundError, match="gazing_ratio"):
        gazer.gaze(clip, gazing_ratio=True)
    with pytest.raises(PlaygroundError, match="task_loss_requirement"):
        gazer.gaze(clip, task_loss_requirement=True)


def test_empty_batch_is_one_line():
    with pytest.raises(PlaygroundError, match="zero clips"):
        load_gazer("greedy").gaze(np.zeros((0, 4, 16, 16, 3), np.uint8))


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(gazing_pos=[["a", "b"]], if_padded_gazing=[[0, 0]], num_gazing_each_frame=[2]), "whole numbers"),
        (dict(gazing_pos=[[1, 300]], if_padded_gazing=[[0, 0]], num_gazing_each_frame=[2]), "not a slot of its frame"),
        (
            dict(gazing_pos=[[1, 2, 3]], if_padded_gazing=[[0, 0, 0]], num_gazing_each_frame=[1, 2]),
            "not a slot of its frame",
        ),
        (dict(gazing_pos=[[5, 5]], if_padded_gazing=[[0, 0]], num_gazing_each_frame=[2]), "more than once"),
        (dict(gazing_pos=[[1, 2]], if_padded_gazing=[[0, 0]], num_gazing_each_frame=[-1, 3]), "negative"),
    ],
)
def test_bad_gaze_dicts_are_one_line(bad, match):
    frames = np.zeros((len(bad["num_gazing_each_frame"]), 32, 32, 3), np.uint8)
    with pytest.raises(PlaygroundError, match=match) as exc:
        load_reconstructor("paint").reconstruct(frames, bad)
    assert "\n" not in str(exc.value)


def test_padding_may_repeat_and_may_hold_the_eos_id():
    gaze = GazeResult.from_official(
        dict(gazing_pos=[[3, 265, 265, 300]], if_padded_gazing=[[0, 1, 1, 0]], num_gazing_each_frame=[3, 1])
    )
    assert gaze.counts().tolist() == [[1, 1]]


def test_failed_page_run_keeps_the_last_result_and_marks_it_stale(tmp_path):
    good = callbacks.gaze_page_action(str(SQUARE), num_frames=3, progress=quiet)
    assert good["shown"] == str(SQUARE)  # the page now shows this video's results
    view = good["view"]
    bad = tmp_path / "not_a_video.mp4"
    bad.write_text("hello")
    out = callbacks.gaze_page_action(str(bad), num_frames=3, view=view, progress=quiet)
    assert out["summary"].startswith("**⚠ This run failed:**") and "stale" in out["summary"]
    assert view.run.clip.name in out["summary"]  # the last good run's summary follows, marked stale
    assert set(out) == {"summary", "shown"}  # every other panel keeps what it showed
    assert out["shown"] == str(bad)  # the failure describes the video on screen
    with pytest.raises(gr.Error):  # API clients still get the error
        callbacks.gaze_action(str(bad), num_frames=3, progress=quiet)


def test_a_new_video_clears_every_result():
    from playground.app.layout import build_demo

    demo = build_demo()
    changes = [
        d
        for d in demo.config["dependencies"]
        if d["targets"]
        and d["targets"][0][1] == "change"
        and any(
            c.get("props", {}).get("elem_id") == "input-video"
            for c in demo.config["components"]
            if c["id"] == d["targets"][0][0]
        )
    ]
    # one handler clears the results; the only other one updates the licence notice (the clip's licence)
    clearing = [d for d in changes if len(d["outputs"]) > 1]
    assert len(clearing) == 1 and len(changes) == 2
    notice = [c["id"] for c in demo.config["components"] if c.get("props", {}).get("elem_id") == "licence-notice"]
    assert [d["outputs"] for d in changes if d not in clearing] == [notice]
    new = str(Path(__file__).resolve().parents[1] / "assets" / "synthetic_square.mp4")  # read and checked first
    cleared = callbacks.clear_action(new, "old.mp4")
    assert len(cleared) == len(clearing[0]["outputs"]) and tuple(cleared) == callbacks.CLEARED_OUTPUTS
    assert cleared["summary"].startswith("Results appear here") and cleared["shown"] is None
    # a late event for the video already shown changes nothing (one unchanged value: {} would read as one value)
    assert callbacks.clear_action("same.mp4", "same.mp4") == {"shown": "same.mp4"}


def test_ask_note_names_the_clip_it_describes(tmp_path, monkeypatch):
    from playground.mllm.random_models import save_tiny_smolvlm

    monkeypatch.setenv("PLAYGROUND_MODEL_DIRS", str(tmp_path))  # the app loads local models from allowed folders only

    folder = save_tiny_smolvlm(tmp_path / "tiny-smolvlm")
    for video in (SQUARE, BUNNY):  # the note follows the clip asked about, not an earlier one
        note = callbacks.ask_action(
            str(video), "What moves?", str(folder), "block_causal", 2, 2, gazer="framediff", progress=quiet
        )["ask_note"]
        assert note.startswith(f"*{video.name}*, 2 frames"), note


def test_summary_says_when_the_video_has_fewer_frames_than_asked():
    page = callbacks.gaze_action(str(SQUARE), num_frames=callbacks.LIMITS.max_frames, progress=quiet)
    summary, view = page["summary"], page["view"]
    T = view.run.clip.frames.shape[0]
    assert T < callbacks.LIMITS.max_frames and f"only {T} of the {callbacks.LIMITS.max_frames} frames" in summary


def test_exported_reconstruction_keeps_the_clip_aspect():
    from playground.video import probe_video

    page = callbacks.gaze_action(str(BUNNY), num_frames=2, progress=quiet)
    view = page["view"]
    info = probe_video(view.folder / "reconstruction.mp4")
    H, W = view.run.clip.frames.shape[1:3]
    assert (info.width, info.height) == (W + W % 2, H + H % 2) and W != H


def test_loss_plot_draws_one_line_for_greedy_with_paint_and_no_loss_threshold_for_framediff():
    from playground.synthetic import moving_square
    from playground.viz import fig_gaze_loss

    frames = moving_square(3, 64, 64)
    paint = load_reconstructor("paint")
    gaze = load_gazer("greedy").gaze(frames, gazing_ratio=0.2, task_loss_requirement=0.2)
    fig = fig_gaze_loss(gaze, paint.reconstruct(frames, gaze))
    names = [t.name for t in fig.data]
    assert sum("measured loss" in n for n in names) == 1 and "greedy" in names[0]
    assert any(s.line.dash == "dash" for s in fig.layout.shapes)  # greedy's threshold is a loss
    diff = load_gazer("framediff").gaze(frames, gazing_ratio=0.2, task_loss_requirement=0.2)
    fig = fig_gaze_loss(diff, paint.reconstruct(frames, diff))
    assert not fig.layout.shapes  # framediff's threshold is on another scale


def test_curve_marks_the_current_threshold_even_when_off():
    curve = pipeline.Curve([0.0, 0.1], [0.5, 0.2], [30.0, 25.0], [0.1, 0.2])
    fig = callbacks.render.curve_figure(curve, None)
    assert fig.layout.shapes and fig.layout.shapes[0].x0 == 0.0


def test_psnr_plot_of_an_exact_rebuild_says_so():
    page = callbacks.gaze_action(str(SQUARE), num_frames=2, gazer="full", progress=quiet)
    quality = page["quality_plot"]
    assert "exactly" in quality.layout.annotations[0].text
    assert list(quality.layout.yaxis.range) == [0, 60]


def test_frame_labels_scale_with_the_frame():
    from playground.viz import _text_patch

    small, _ = _text_patch("frame 0", 11)
    large, _ = _text_patch("frame 0", 30)
    assert large.shape[0] > 2 * small.shape[0]
