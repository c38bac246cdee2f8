"""Training end to end on a tiny synthetic set: labels, NTP, GRPO, resume, DDP, checkpoints, bad input.

The set is made in code (moving squares, 8 frames of 64 px, 4-frame clips) and the model is a
micro AutoGaze (hidden 32, one layer), so every run here takes seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT
from safetensors.torch import load_file

from playground import load_gazer
from playground.cli import main
from playground.training.labels import read_labels
from playground.training.run_folder import checkpoints, config_template
from playground.training.trainer import train_gazer
from playground.video import write_video

CLIP_LEN, SIZE = 4, 64


def _video(seed: int, frames: int = 8, side: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(30, 200, size=3)
    y, x = np.mgrid[0:side, 0:side]
    video = np.empty((frames, side, side, 3), np.uint8)
    for t in range(frames):
        frame = np.stack([base[0] + 0.5 * x, base[1] + 0.5 * y, np.full_like(x, base[2])], -1)
        r, c = (4 + 5 * t + 7 * seed) % (side - 16), (8 + 3 * t * (seed + 1)) % (side - 16)
        frame[r : r + 16, c : c + 16] = 250
        video[t] = np.clip(frame, 0, 255)
    return video


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("set")
    for i in range(3):
        write_video(root / "clips" / "train" / f"v{i}.mp4", _video(i), fps=8, preset="ultrafast")
    return root


@pytest.fixture(scope="module")
def micro_config(tmp_path_factory) -> Path:
    config = config_template("tiny")
    gm = config["gaze_model_config"]
    gm["vision_model_config"].update(hidden_dim=32, out_dim=32)
    gm["gaze_decoder_config"].update(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=1, num_key_value_heads=1
    )
    path = tmp_path_factory.mktemp("config") / "micro.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def labels(dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("labels") / "gazing_labels.json"
    rc = main(
        [
            "labels",
            str(dataset),
            "--out",
            str(out),
            "--clips",
            "all",
            "--clip-len",
            str(CLIP_LEN),
            "--size",
            str(SIZE),
            "--quiet",
        ]
    )
    assert rc == 0
    return out


def _ntp(out: Path, labels: Path, dataset: Path, config: Path, steps: int, **kw) -> Path:
    knobs = dict(
        method="ntp",
        labels=str(labels),
        videos=[str(dataset)],
        config=str(config),
        out=str(out),
        steps=steps,
        batch_size=2,
        size=SIZE,
        lr=3e-3,
        progress=False,
    )
    knobs.update(kw)
    return train_gazer(**knobs)


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return load_file(str(checkpoint / "model.safetensors"))


# ---- labels ---------------------------------------------------------------------------------


def test_labels_file_is_official_and_resumable(labels, dataset, capsys):
    data = read_labels(labels)
    assert sorted(data) == sorted(f"clips/train/v{i}.mp4{s}" for i in range(3) for s in ("", "#4"))
    for label in data.values():
        assert len(label["gazing_pos"]) == CLIP_LEN
        for t, (ids, losses) in enumerate(zip(label["gazing_pos"], label["task_losses"])):
            assert ids and all(265 * t <= i < 265 * (t + 1) for i in ids) and len(ids) == len(losses)
    before = labels.read_text()
    # Drop one clip: a second run labels only that one and gives it the same label.
    partial = dict(data)
    dropped = partial.pop("clips/train/v1.mp4#4")
    labels.write_text(json.dumps(partial))
    assert (
        main(
            [
                "labels",
                str(dataset),
                "--out",
                str(labels),
                "--clips",
                "all",
                "--clip-len",
                str(CLIP_LEN),
                "--size",
                str(SIZE),
                "--quiet",
            ]
        )
        == 0
    )
    assert "6 clips" in capsys.readouterr().out
    assert read_labels(labels)["clips/train/v1.mp4#4"] == dropped
    assert json.loads(labels.read_text()) == json.loads(before)


def test_labels_with_worker_processes_equal_one_process(labels, dataset, tmp_path):
    out = tmp_path / "labels.json"
    assert (
        main(
            [
                "labels",
                str(dataset),
                "--out",
                str(out),
                "--clips",
                "all",
                "--clip-len",
                str(CLIP_LEN),
                "--size",
                str(SIZE),
                "--workers",
                "2",
                "--quiet",
            ]
        )
        == 0
    )
    assert json.loads(out.read_text()) == json.loads(labels.read_text())


def test_labels_skip_an_unreadable_video(dataset, tmp_path, capsys):
    (tmp_path / "set" / "x").mkdir(parents=True)
    good = tmp_path / "set" / "x" / "good.mp4"
    good.write_bytes((dataset / "clips" / "train" / "v0.mp4").read_bytes())
    (tmp_path / "set" / "x" / "empty.mp4").write_bytes(b"")
    out = tmp_path / "labels.json"
    assert (
        main(
            [
                "labels",
                str(tmp_path / "set"),
                "--out",
                str(out),
                "--clip-len",
                str(CLIP_LEN),
                "--size",
                str(SIZE),
                "--quiet",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "empty.mp4" in err and list(read_labels(out)) == ["set/x/good.mp4"]
    assert json.loads((tmp_path / "labels.errors.json").read_text())[0]["video"].endswith("empty.mp4")
    # Nothing readable at all: exit 2 and no labels file.
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "empty.mp4").write_bytes(b"")
    assert main(["labels", str(only_bad), "--out", str(tmp_path / "none.json"), "--quiet"]) == 2
    assert not (tmp_path / "none.json").exists()


# ---- NTP, resume, checkpoints ---------------------------------------------------------------


def test_ntp_lowers_the_loss_and_saves_a_loadable_gazer(labels, dataset, micro_config, tmp_path):
    last = _ntp(tmp_path / "run", labels, dataset, micro_config, steps=12)
    rows = _metrics(tmp_path / "run")
    assert len(rows) == 12 and rows[-1]["step"] == 12
    first, final = np.mean([r["ntp_loss"] for r in rows[:2]]), np.mean([r["ntp_loss"] for r in rows[-2:]])
    assert final < first - 0.05, (first, final)
    assert (tmp_path / "run" / "curves.html").stat().st_size > 10_000
    assert "NTP run" in (tmp_path / "run" / "README.md").read_text()
    gazer = load_gazer(str(last))  # the published layout: config.json, model.safetensors, preprocessor_config.json
    assert sorted(p.name for p in last.iterdir()) == [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "trainer_state.pt",
    ]
    state = {k: v for k, v in gazer.net.state_dict().items()}
    saved = _weights(last)
    assert set(saved) == set(state) and all(torch.equal(saved[k], state[k]) for k in saved)
    clip = _video(0, frames=4)
    assert gazer.gaze(clip, gazing_ratio=0.1).num_gazing_each_frame.tolist() == [26] * 4


def _stop_at(step: int):
    def on_step(metrics):
        if metrics["step"] == step:
            raise KeyboardInterrupt  # as Ctrl-C during that step, before its checkpoint

    return on_step


def test_resume_continues_exactly(labels, dataset, micro_config, tmp_path):
    """4 steps = 2 steps, Ctrl-C in step 3, resume, 2 more steps: identical weights and metrics."""
    straight = _ntp(tmp_path / "a", labels, dataset, micro_config, steps=4)
    with pytest.raises(KeyboardInterrupt):
        _ntp(tmp_path / "b", labels, dataset, micro_config, steps=4, save_every=2, on_step=_stop_at(3))
    assert [s for s, _ in checkpoints(tmp_path / "b")] == [2]  # the last complete checkpoint is intact
    resumed = train_gazer(resume=tmp_path / "b", progress=False)
    a, b = _weights(straight), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in _metrics(tmp_path / "a")] == [r["loss"] for r in _metrics(tmp_path / "b")]
    assert [s for s, _ in checkpoints(tmp_path / "b")] == [2, 4]


def test_ddp_two_gloo_processes_equal_one_process_on_the_whole_batch(labels, dataset, micro_config, tmp_path):
    """2 processes x 2 micro-batches of 1 clip (the first under `no_sync`) = 1 process x 2 micro-batches of 2.

    SGD, so the step is linear in the gradient (Adam's first steps turn float noise in near-zero
    gradients into whole-lr moves); clipped, so the norm the clip sees is checked to be the global one.
    """
    knobs = dict(steps=2, grad_accum=2, optimizer="sgd", lr=0.5, grad_clip=0.1)
    single = _ntp(tmp_path / "one", labels, dataset, micro_config, batch_size=2, **knobs)
    env = dict(os.environ, PLAYGROUND_DEVICE="cpu", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "playground",
        "train",
        "ntp",
        "--labels",
        str(labels),
        "--videos",
        str(dataset),
        "--config",
        str(micro_config),
        "--out",
        str(tmp_path / "two"),
        "--batch-size",
        "1",
        "--size",
        str(SIZE),
        "--quiet",
        *[a for k, v in knobs.items() for a in ("--" + k.replace("_", "-"), str(v))],
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    a, b = _weights(single), _weights(tmp_path / "two" / "checkpoint-2")
    assert all(torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-6) for k in a)
    one, two = _metrics(tmp_path / "one"), _metrics(tmp_path / "two")
    assert [r["loss"] for r in one] == pytest.approx([r["loss"] for r in two], rel=1e-5)
    assert [r["grad_norm"] for r in one] == pytest.approx([r["grad_norm"] for r in two], rel=1e-4)
    assert all(r["grad_norm"] > knobs["grad_clip"] for r in one)  # so the clip acted


# ---- GRPO -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ntp_run(labels, dataset, micro_config, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("ntp") / "run"
    _ntp(run, labels, dataset, micro_config, steps=10)
    return run


def _grpo(out: Path, init: Path, dataset: Path, steps: int, **kw) -> Path:
    knobs = dict(
        method="grpo",
        videos=[str(dataset)],
        init=str(init),
        out=str(out),
        steps=steps,
        batch_size=1,
        group_size=4,
        clip_len=CLIP_LEN,
        size=SIZE,
        self_requirement=(0.05, 0.3),
        progress=False,
    )
    knobs.update(kw)
    return train_gazer(**knobs)


def _expected_loss(checkpoint: Path, clip: np.ndarray, rollouts: int = 16, budget: int = 6) -> float:
    """The policy's mean paint loss (minus its mean reward) over sampled rollouts at temperature 1."""
    from playground import load_reconstructor
    from playground.training import Sampler

    batch = np.repeat(clip[None], rollouts, 0)
    gaze = load_gazer(str(checkpoint)).sample(
        batch, [budget] * len(clip), Sampler(1.0, generator=torch.Generator().manual_seed(123))
    )
    return float(load_reconstructor("paint").reconstruct(batch, gaze).loss.mean())


def test_grpo_raises_the_mean_reward(ntp_run, dataset, tmp_path):
    """A few GRPO steps on one clip, sampled at temperature 1: the policy's mean reward there goes up."""
    video = dataset / "clips" / "train" / "v0.mp4"
    last = _grpo(
        tmp_path / "g",
        ntp_run,
        video,
        steps=4,
        group_size=8,
        lr=0.05,
        warmup=0.0,
        clips="first",
        augment=False,
        temperature_start=1.0,
        temperature_end=1.0,
    )
    clip = _video(0)[:CLIP_LEN]
    before, after = _expected_loss(checkpoints(ntp_run)[-1][1], clip), _expected_loss(last, clip)
    print(f"mean paint loss of the policy: {before:.4f} before, {after:.4f} after")
    assert after < before - 0.02, (before, after)


def test_grpo_resume_continues_exactly(ntp_run, dataset, tmp_path):
    straight = _grpo(tmp_path / "a", ntp_run, dataset, steps=2)
    with pytest.raises(KeyboardInterrupt):
        _grpo(tmp_path / "b", ntp_run, dataset, steps=2, save_every=1, on_step=_stop_at(2))
    resumed = train_gazer(resume=tmp_path / "b", progress=False)
    a, b = _weights(straight), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_grad_clip_caps_the_step_at_the_norm(ntp_run, labels, dataset, micro_config, tmp_path):
    """One SGD step from a checkpoint moves the weights by lr x min(norm, clip): clipped, exactly lr x clip."""
    init = checkpoints(ntp_run)[-1][1]
    lr, clip = 1.0, 0.05
    last = _ntp(
        tmp_path / "run",
        labels,
        dataset,
        micro_config,
        steps=1,
        init=str(init),
        optimizer="sgd",
        lr=lr,
        min_lr=0.0,
        grad_clip=clip,
    )
    before, after = _weights(init), _weights(last)
    moved = torch.sqrt(sum(((after[k] - before[k]).double() ** 2).sum() for k in before))
    assert _metrics(tmp_path / "run")[0]["grad_norm"] > clip
    assert float(moved) == pytest.approx(lr * clip, rel=1e-2)


def test_evaluate_gazer_writes_the_table(ntp_run, dataset, tmp_path, capsys):
    checkpoint = checkpoints(ntp_run)[-1][1]
    out = tmp_path / "eval"
    assert (
        main(
            [
                "evaluate-gazer",
                str(checkpoint),
                "--videos",
                str(dataset),
                "--clip-len",
                str(CLIP_LEN),
                "--size",
                str(SIZE),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "gap closed" in printed and "random loss" in printed
    result = json.loads((out / "evaluation.json").read_text())
    clip = result["clips"][0]
    gap = (clip["loss"]["random"] - clip["loss"]["checkpoint-10"]) / (clip["loss"]["random"] - clip["loss"]["greedy"])
    assert clip["gap_closed"] == pytest.approx(gap)
    assert len(clip["measured"]) == CLIP_LEN == len(clip["predicted"])  # per frame, at the threshold
    assert (out / "evaluation.html").is_file() and (out / "evaluation.csv").read_text().startswith("clip,")


# ---- bad input: one line, exit 2, nothing written --------------------------------------------


def _train_cli(tmp_path, *args) -> tuple[int, str]:
    out = tmp_path / "run"
    rc = main(["train", *args, "--out", str(out), "--steps", "1", "--size", str(SIZE), "--quiet"])
    assert not out.exists(), "a refused run must leave nothing behind"
    return rc


@pytest.mark.parametrize(
    "case",
    [
        "missing video",
        "frames",
        "corrupt",
        "not a checkpoint",
        "zero-length",
        "start not a number",
        "negative start",
        "deep JSON",
        "huge config",
    ],
)
def test_bad_training_input(case, labels, dataset, micro_config, tmp_path, capsys):
    data = read_labels(labels)
    videos, config = dataset, micro_config
    if case == "missing video":
        data["clips/train/gone.mp4"] = data["clips/train/v0.mp4"]
    elif case == "frames":
        data["clips/train/v0.mp4#6"] = data["clips/train/v0.mp4"]  # 4 frames from frame 6 of an 8-frame video
    elif case in ("start not a number", "negative start"):
        data["clips/train/v0.mp4#" + ("abc" if case == "start not a number" else "-3")] = data["clips/train/v0.mp4"]
    elif case == "huge config":  # a hidden size of 10^9: refused before anything is allocated
        big = json.loads(micro_config.read_text())
        big["gaze_model_config"]["gaze_decoder_config"].update(hidden_size=10**9, intermediate_size=10**9)
        config = tmp_path / "big.json"
        config.write_text(json.dumps(big))
    bad = tmp_path / "labels.json"
    text = {"corrupt": '{"clips/train/v0.mp4": {"gazing', "deep JSON": "[" * 200_000 + "]" * 200_000}
    bad.write_text(text.get(case) or json.dumps(data))
    if case == "zero-length":
        videos = tmp_path / "set"
        (videos / "clips" / "train").mkdir(parents=True)
        for p in (dataset / "clips" / "train").iterdir():
            (videos / "clips" / "train" / p.name).write_bytes(p.read_bytes())
        (videos / "clips" / "train" / "v0.mp4").write_bytes(b"")
    if case == "not a checkpoint":
        rc = _train_cli(tmp_path, "grpo", "--videos", str(dataset), "--init", str(dataset), "--clip-len", "4")
    else:
        rc = _train_cli(tmp_path, "ntp", "--labels", str(bad), "--videos", str(videos), "--config", str(config))
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1, err


def test_a_deep_config_is_refused_in_one_line(dataset, labels, tmp_path, capsys):
    config = tmp_path / "deep.json"
    config.write_text("{" + '"a":{' * 100_000 + "}" * 100_001)
    assert _train_cli(tmp_path, "ntp", "--labels", str(labels), "--videos", str(dataset), "--config", str(config)) == 2
    err = capsys.readouterr().err
    assert "nested" in err and err.count("\n") == 1, err


def test_a_run_that_diverges_before_its_first_checkpoint_leaves_nothing(labels, dataset, micro_config, tmp_path):
    from playground.errors import PlaygroundError

    with pytest.raises(PlaygroundError, match="not finite"):
        _ntp(tmp_path / "run", labels, dataset, micro_config, steps=6, lr=1e3)
    assert not (tmp_path / "run").exists()
    # One that got a checkpoint first keeps it, complete, and nothing else is removed.
    with pytest.raises(PlaygroundError, match="not finite"):
        _ntp(tmp_path / "kept", labels, dataset, micro_config, steps=6, lr=1e3, save_every=1)
    assert [s for s, _ in checkpoints(tmp_path / "kept")] and (tmp_path / "kept" / "run.json").is_file()


def test_resume_drops_a_torn_last_metrics_line(labels, dataset, micro_config, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _ntp(tmp_path / "run", labels, dataset, micro_config, steps=3, save_every=1, on_step=_stop_at(2))
    with open(tmp_path / "run" / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "loss": 0.')  # a crash mid-write
    with pytest.warns(UserWarning, match="cut short"):
        train_gazer(resume=tmp_path / "run", progress=False)
    assert [r["step"] for r in _metrics(tmp_path / "run")] == [1, 2, 3]


def test_a_batch_larger_than_the_clips_is_cut_to_them(labels, dataset, micro_config, tmp_path, capsys):
    clips = len(read_labels(labels))
    _ntp(tmp_path / "run", labels, dataset, micro_config, steps=1, batch_size=1_000_000)
    assert "using " + str(clips) in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "run.json").read_text())["batch_size"] == clips
