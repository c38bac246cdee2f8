"""Calibration of a learned gazer's threshold and the measured stop (playground.calibration,
playground.gazers.autogaze.measured), on the tiny reference checkpoint and short generated clips."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from playground import load_gazer, load_reconstructor
from playground.calibration import (
    CALIBRATION_FILE,
    UNCALIBRATED,
    Calibration,
    calibrate,
    isotonic,
    read_calibration,
    threshold_note,
    weights_sha256,
    write_calibration,
)
from playground.cli import main
from playground.errors import PlaygroundError
from playground.gaze import concat_frames
from playground.synthetic import random_scene

MODEL = Path(__file__).parent / "fixtures" / "autogaze" / "tiny_seed0"


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return random_scene(3, num_frames=4, size=64)


@pytest.fixture(scope="module")
def gazer():
    return load_gazer(str(MODEL), calibration=None)


@pytest.fixture(scope="module")
def paint():
    return load_reconstructor("paint")


def table_calibration(sha: str) -> Calibration:
    return Calibration(
        gazer="tiny",
        weights_sha256=sha,
        reconstructor="paint",
        requested=[-0.5, 0.0, 0.5, 1.0],
        measured=[0.05, 0.2, 0.15, 0.4],
        gazes_per_frame=[200.0, 50.0, 40.0, 5.0],
        clips=["a.mp4"],
        frames=16,
        created="2026-01-01T00:00:00+00:00",
    )


# ---- the map ----------------------------------------------------------------------------------


def test_isotonic_fit_and_its_inverse():
    assert isotonic([0.05, 0.2, 0.15, 0.4]) == pytest.approx([0.05, 0.175, 0.175, 0.4])
    cal = table_calibration("0" * 64)
    assert cal.fitted == pytest.approx([0.05, 0.175, 0.175, 0.4])
    assert cal.threshold_for(0.05) == pytest.approx(-0.5)
    assert cal.threshold_for(0.175) == pytest.approx(0.5)  # a flat run: the largest threshold (fewest gazes)
    assert cal.threshold_for(0.1125) == pytest.approx(0.0)  # halfway from (0.05, -0.5) to (0.175, 0.5)
    assert cal.threshold_for(0.0) == -0.5 and cal.threshold_for(9.0) == 1.0  # clamped to the sweep
    wanted = np.linspace(0, 0.5, 41)
    assert np.all(np.diff([cal.threshold_for(w) for w in wanted]) >= 0)


def test_calibration_file_round_trip_and_bad_files(tmp_path):
    cal = table_calibration("ab" * 32)
    path = write_calibration(cal, tmp_path / CALIBRATION_FILE)
    back = read_calibration(path)
    assert back.to_json() == cal.to_json() and back.path == str(path)
    data = json.loads(path.read_text())
    data["table"][1]["requested"] = 2.0  # not ascending
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(PlaygroundError, match="ascending") as err:
        read_calibration(tmp_path / "bad.json")
    assert "\n" not in str(err.value)
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(PlaygroundError, match="not a playground calibration"):
        read_calibration(tmp_path / "other.json")


# ---- load_gazer picks it up, applies it, and None keeps the head's threshold ----------------


def test_load_apply_and_none_unchanged(tmp_path, clip, gazer):
    folder = tmp_path / "ckpt"
    shutil.copytree(MODEL, folder)
    cal = table_calibration(weights_sha256(folder / "model.safetensors"))
    write_calibration(cal, folder / CALIBRATION_FILE)

    auto = load_gazer(str(folder))  # "auto": calibration.json beside the weights
    assert auto.calibration is not None and auto.calibration.reconstructor == "paint"
    got = auto.gaze(clip, task_loss_requirement=0.1125)
    assert got.settings["task_loss_requirement"] == pytest.approx(0.1125)
    assert got.settings["head_threshold"] == pytest.approx(0.0)
    assert got.settings["calibrated_for"] == "paint" and got.settings["calibration"].startswith("calibrated for paint")
    raw = gazer.gaze(clip, task_loss_requirement=0.0)  # what the head was handed
    assert torch.equal(got.gazing_pos, raw.gazing_pos) and torch.equal(got.if_padded_gazing, raw.if_padded_gazing)
    streamed = concat_frames(list(auto.stream(clip, task_loss_requirement=0.1125)))
    assert torch.equal(streamed.gazing_pos, got.gazing_pos)

    off = load_gazer(str(folder), calibration=None)  # the reference's semantics
    plain = off.gaze(clip, task_loss_requirement=0.1125)
    same = gazer.gaze(clip, task_loss_requirement=0.1125)
    assert torch.equal(plain.gazing_pos, same.gazing_pos) and "head_threshold" not in plain.settings
    assert plain.settings["calibration"] == UNCALIBRATED and plain.settings["calibrated_for"] is None

    explicit = load_gazer(str(MODEL), calibration=str(folder / CALIBRATION_FILE))  # named: same weights
    assert explicit.gaze(clip, task_loss_requirement=0.1125).settings["head_threshold"] == pytest.approx(0.0)


def test_a_calibration_for_other_weights(tmp_path):
    folder = tmp_path / "ckpt"
    shutil.copytree(MODEL, folder)
    write_calibration(table_calibration("0" * 64), folder / CALIBRATION_FILE)
    auto = load_gazer(str(folder))  # "auto" leaves it, and says so
    assert auto.calibration is None and "other weights" in auto.calibration_note
    with pytest.raises(PlaygroundError, match="other weights") as err:
        load_gazer(str(MODEL), calibration=str(folder / CALIBRATION_FILE))
    assert "\n" not in str(err.value)


def test_results_say_whether_the_pair_is_calibrated(tmp_path, clip, gazer):
    plain = gazer.gaze(clip, gazing_ratio=0.1, task_loss_requirement=0.5).settings
    assert plain["calibration"] == UNCALIBRATED and plain["stop"] == "predicted"
    assert threshold_note(plain, "paint") == UNCALIBRATED
    calibrated = {**plain, "calibration": "calibrated for paint (calibration.json)", "calibrated_for": "paint"}
    assert threshold_note(calibrated, "paint").startswith("calibrated for paint")
    assert threshold_note(calibrated, "bfshi/VideoMAE_AutoGaze").startswith("uncalibrated for bfshi/VideoMAE_AutoGaze")
    greedy = load_gazer("greedy").gaze(clip, gazing_ratio=0.1, task_loss_requirement=0.5).settings
    assert threshold_note(greedy, "paint").startswith("exact")
    assert (
        threshold_note(load_gazer("random").gaze(clip, gazing_ratio=0.1).settings, "paint") == "ignored by this gazer"
    )


def test_the_shipped_gazer_ships_calibrated_for_paint():
    shipped = load_gazer("autogaze-playground")
    assert shipped.calibration is not None and shipped.calibration.reconstructor == "paint"
    assert load_gazer("autogaze-playground", calibration=None).calibration is None


# ---- the sweep and the command ------------------------------------------------------------------


def test_calibrate_sweeps_and_maps_back(clip, gazer, paint):
    short = clip[:2]
    cal = calibrate(gazer, paint, [short, short[:, ::-1].copy()], names=["a", "b"], thresholds=[1.0, -1.0, 0.3])
    assert cal.requested == [-1.0, 0.3, 1.0] and cal.reconstructor == "paint" and cal.frames == 4
    assert cal.weights_sha256 == weights_sha256(MODEL / "model.safetensors")
    assert all(a <= b for a, b in zip(cal.fitted, cal.fitted[1:]))
    assert cal.gazes_per_frame[0] == 265  # -1: the head never predicts that low, the whole budget
    assert gazer.calibration is None and gazer.stop == "predicted"  # restored after the sweep


def test_cli_calibrate(tmp_path, clip):
    video = tmp_path / "clips" / "tiny.npy"
    video.parent.mkdir()
    np.save(video, clip)
    out = tmp_path / "cal.json"
    assert (
        main(
            [
                "calibrate",
                str(MODEL),
                "--videos",
                str(video.parent),
                "--clips",
                "first",
                "--clip-len",
                "2",
                "--size",
                "64",
                "--thresholds",
                "-1",
                "0.4",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    cal = read_calibration(out)
    assert cal.clips == [f"{tmp_path.name}/clips/tiny.npy"] and cal.requested == [-1.0, 0.4]
    assert cal.reconstructor == "paint" and cal.weights_sha256 == weights_sha256(MODEL / "model.safetensors")


def test_cli_calibrate_bad_input_one_line(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    start = time.perf_counter()
    # the output is checked before anything is read or loaded (the videos do not even exist)
    assert main(["calibrate", str(MODEL), "--videos", str(tmp_path / "none"), "--out", str(blocker / "c.json")]) == 2
    assert time.perf_counter() - start < 5
    for argv in (
        ["calibrate", "greedy", "--videos", str(tmp_path), "--out", str(tmp_path / "c.json")],
        ["calibrate", str(MODEL), "--videos", str(tmp_path / "none"), "--out", str(tmp_path / "c.json")],
    ):
        assert main(argv) == 2
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", str(MODEL), "--videos", "x", "--out", "c.json", "--thresholds", "abc"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("error:") for line in err)
    assert not (tmp_path / "c.json").exists()


# ---- the measured stop --------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 2])
def test_measured_stop_meets_the_threshold_exactly(gazer, paint, batch):
    clips = np.stack([random_scene(5, num_frames=3, size=64), random_scene(6, num_frames=3, size=64)][:batch])
    t, ratio = 0.3, 0.3
    result = gazer.gaze(clips, gazing_ratio=ratio, task_loss_requirement=t, stop="measured")
    rec = paint.reconstruct(clips, result)
    assert result.loss_kind == "measured" and result.settings["stop"] == "measured"
    assert result.settings["calibrated_for"] == "paint" and result.settings["calibration"].startswith("exact")
    assert torch.equal(result.frame_loss, rec.loss)  # the gazer's measure is paint's, to the bit
    budget = int(np.float32(ratio) * np.float32(265))
    counts = result.counts()
    capped = counts == budget
    assert bool(((rec.loss <= t) | capped).all())
    assert not bool(capped.all())  # the threshold, not only the cap, ended frames
    # it stops at the first gaze that meets it: one gaze fewer would not (the first gaze is always kept)
    for b in range(batch):
        for f in range(clips.shape[1]):
            losses = result.frame_values(result.loss, b, f)
            assert bool((losses[:-1] > t).all())
    assert result.settings["paints"] == int(counts.sum()) and result.seconds["measure"] > 0
    streamed = concat_frames(list(gazer.stream(clips, gazing_ratio=ratio, task_loss_requirement=t, stop="measured")))
    assert torch.equal(streamed.gazing_pos, result.gazing_pos) and torch.equal(streamed.frame_loss, result.frame_loss)


def test_measured_stop_keeps_the_gazers_order(gazer):
    clip = random_scene(5, num_frames=3, size=64)
    measured = gazer.gaze(clip, gazing_ratio=0.3, task_loss_requirement=0.3, stop="measured")
    full = gazer.gaze(clip, gazing_ratio=0.3)  # the head's order, no stop
    kept = measured.frame_slots(0, 0)  # frame 0 (later frames see other context): a prefix of the head's order
    assert 0 < len(kept) < len(full.frame_slots(0, 0))
    assert kept.tolist() == full.frame_slots(0, 0)[: len(kept)].tolist()
    whole = gazer.gaze_video(clip, gazing_ratio=0.3, task_loss_requirement=0.3, tile=None)
    assert whole.gaze.settings["calibration"] == UNCALIBRATED and whole.gaze.loss_kind == "predicted"
    with pytest.raises(PlaygroundError, match="stop must be one of"):
        gazer.gaze(clip, task_loss_requirement=0.1, stop="exact")
    with pytest.raises(PlaygroundError, match="does not retarget"):
        gazer.gaze(
            clip, task_loss_requirement=0.1, stop="measured", target_scales=[64, 128, 224, 448], target_patch_size=16
        )
