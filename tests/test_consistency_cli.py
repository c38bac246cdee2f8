"""The CLI gives what the app gives (issue items 4, 11, 13, 16): --fps 0, `ask`'s defaults, `gaze`'s files
and run card, links skipped with a word, `evaluate-gazer`'s default folder, a fast `--help`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import EXAMPLE_VIDEO, ROOT

from playground import knobs
from playground.cli import COMMANDS, build_parser, main
from playground.run_card import EXPORT_FILES, TILED_EXPORT_FILES, code_version, weights_digest
from playground.training.methods import METHODS


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


# ---- --help (16) ------------------------------------------------------------------------------


def test_help_lists_every_command_without_importing_torch():
    code = (
        "import sys; from playground.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')"
    )  # what makes --help slow is importing torch; its seconds are benchmarks/cli_speed.py's
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    *help_lines, last = done.stdout.strip().splitlines()
    assert last == "NO-TORCH"
    for name in COMMANDS:
        assert any(line.strip().startswith(name) for line in help_lines), name


HEAVY = ("torch", "transformers", "gradio", "pyarrow", "decord")  # what makes `--help` slow; none may load
# Every subcommand of the registry, and each `train` method's own parser (`train ntp --help`).
HELP_COMMANDS = [[name] for name in COMMANDS] + [["train", method] for method in METHODS]


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=" ".join)
def test_subcommand_help_imports_no_torch(command):
    code = (
        "import sys; from playground.cli import main\n"
        f"try:\n    main([*{command!r}, '--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    *help_lines, last = done.stdout.strip().splitlines()
    assert any(line.startswith("usage: python -m playground " + " ".join(command)) for line in help_lines)
    assert last == "[]", f"`{' '.join(command)} --help` imported {last}"


def test_one_subcommand_parser_is_the_full_one():
    only = build_parser(only="gaze").parse_args(["gaze", "x.mp4"])
    assert vars(only) == vars(build_parser().parse_args(["gaze", "x.mp4"]))


# ---- --fps 0 and ask's defaults (4) -----------------------------------------------------------


def test_fps_zero_spreads_the_frames_uniformly_as_in_the_app():
    parser = build_parser()
    assert parser.parse_args(["gaze", "x.mp4"]).fps == knobs.FPS == 0.0
    assert parser.parse_args(["gaze", "x.mp4", "--fps", "0"]).fps == 0.0
    from playground.app.pipeline import RunSettings

    assert RunSettings().fps == knobs.FPS
    assert _exit_code(["gaze", "x.mp4", "--fps", "-1"]) == 2


def test_ask_defaults_are_the_apps_gaze_settings():
    from playground.app.pipeline import RunSettings

    args = build_parser().parse_args(["ask", "x.mp4", "Q?"])
    app = RunSettings()
    assert (args.frames, args.gazer, args.threshold, args.gazing_ratio, args.fps) == (
        app.num_frames,
        app.gazer,
        app.threshold,
        app.gazing_ratio,
        app.fps,
    )


def test_ask_tab_post_vit_pruning_gives_the_clis_numbers(tmp_path, capsys):
    """Issue 26: the Ask tab's EVS column keeps the gazed column's LLM vision tokens, and every column's tokens,
    GFLOPs and answer are CLI `ask --conditions full,gazed,evs --json`'s for the same settings (seconds differ)."""
    from playground.app import callbacks, pipeline
    from playground.mllm.answer import display_text

    video = ROOT / "assets" / "synthetic_square.mp4"
    knobs_ = dict(gazer="framediff", threshold=0.2, ratio=0.3)
    out = callbacks.ask_action(
        str(video),
        "What moves?",
        mllm="tiny-random-smolvlm2",
        max_new_tokens=2,
        num_frames=2,
        pruning=["evs"],
        progress=pipeline.no_progress,
        **knobs_,
    )
    table = out["cost_table"].set_index("")
    assert list(table.columns) == ["gazed", "full", "evs"]
    assert table.loc["LLM vision tokens", "evs"] == table.loc["LLM vision tokens", "gazed"]
    assert table.loc["vision tokens (encoder)", "evs"] == table.loc["vision tokens (encoder)", "full"]
    assert out["pruned_answers"]["visible"] and out["pruned_answers"]["value"].startswith("evs: ")

    answers = tmp_path / "answers.json"
    assert (
        main(
            [
                "ask",
                str(video),
                "What moves?",
                "--mllm",
                "tiny-random-smolvlm2",
                "--frames",
                "2",
                "--max-new-tokens",
                "2",
                "--gazer",
                "framediff",
                "--threshold",
                "0.2",
                "--gazing-ratio",
                "0.3",
                "--conditions",
                "full,gazed,evs",
                "--json",
                str(answers),
            ]
        )
        == 0
    )
    capsys.readouterr()
    cli = json.loads(answers.read_text())
    tokens = {
        "vision tokens (encoder)": "vision_tokens",
        "LLM vision tokens": "llm_vision_tokens",
        "LLM prompt tokens": "llm_prompt_tokens",
        "new tokens": "new_tokens",
    }
    for name in ("full", "gazed", "evs"):
        for row, key in tokens.items():
            assert table.loc[row, name] == cli[name][key], (name, row)
        for stage, value in cli[name]["flops"].items():
            label = next((r for r in table.index if r.startswith("GFLOPs ") and r.split()[1] == stage), None)
            if label is not None:
                assert table.loc[label, name] == (None if value is None else round(value / 1e9, 3)), (name, stage)
    assert table.loc["GFLOPs total (gazer + stages)", "evs"] == round(cli["evs"]["flops"]["total"] / 1e9, 3)
    assert out["gazed_answer"]["value"] == display_text(cli["gazed"]["text"], True)
    assert out["pruned_answers"]["value"] == "evs: " + display_text(cli["evs"]["text"], True)


# ---- gaze writes the app's files (4, 13) ------------------------------------------------------


@pytest.fixture(scope="module")
def gazed(tmp_path_factory):
    out = tmp_path_factory.mktemp("gaze") / "run"
    assert main(["gaze", str(EXAMPLE_VIDEO), "--out", str(out)]) == 0
    return out


def test_gaze_writes_the_apps_files_with_the_same_numbers(gazed, tmp_path):
    from playground.app.export import run_card, write_tables
    from playground.app.limits import Limits
    from playground.app.pipeline import RunSettings, run
    from playground.video import probe_video

    assert sorted(p.name for p in gazed.iterdir()) == sorted(EXPORT_FILES)
    app_run = run(str(EXAMPLE_VIDEO), RunSettings(), Limits())
    from playground import load_gazer, load_reconstructor

    app_card = run_card(app_run, load_gazer("greedy"), load_reconstructor("paint"))
    write_tables(app_run, app_card, tmp_path)
    cli_card = json.loads((gazed / "run_card.json").read_text())
    assert {k: v for k, v in cli_card["settings"].items() if k != "cli"} == json.loads(json.dumps(app_card["settings"]))
    assert cli_card["results"] == json.loads(json.dumps(app_card["results"]))
    assert cli_card["video"] == json.loads(json.dumps(app_card["video"]))
    assert cli_card["models"]["gazer"] == json.loads(json.dumps(app_card["models"]["gazer"]))
    cli_masks, app_masks = np.load(gazed / "masks.npz"), np.load(tmp_path / "masks.npz")
    assert sorted(cli_masks.files) == sorted(app_masks.files)
    assert all(np.array_equal(cli_masks[k], app_masks[k]) for k in app_masks.files)
    # The reconstruction at the clip's aspect ratio (the read size), not the gazer's square canvas.
    info = probe_video(gazed / "reconstruction.mp4")
    assert [info.width, info.height] == cli_card["video"]["read_size"] == [480, 270]


def test_tiled_gaze_writes_a_run_card(tmp_path):
    out = tmp_path / "tiled"
    assert main(["gaze", str(EXAMPLE_VIDEO), "--out", str(out), "--tile", "224", "--frames", "4"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(TILED_EXPORT_FILES)
    card = json.loads((out / "run_card.json").read_text())
    assert card["settings"]["tile"] == 224 and card["results"]["tiles"] == 6 and card["video"]["frames"] == 4


def test_a_learned_gazers_card_has_its_weights_sha256_and_the_code_version(tmp_path):
    from playground.gazers import SHIPPED_GAZERS

    out = tmp_path / "learned"
    assert main(["gaze", str(EXAMPLE_VIDEO), "--out", str(out), "--gazer", "autogaze-playground", "--frames", "2"]) == 0
    card = json.loads((out / "run_card.json").read_text())
    gazer = card["models"]["gazer"]
    digest = weights_digest(SHIPPED_GAZERS["autogaze-playground"])
    assert gazer["weights_sha256"] == digest and len(digest) == 64 and gazer["revision"] == f"sha256:{digest[:16]}"
    assert card["models"]["reconstructor"]["weights_sha256"] is None  # paint: no weights
    code = card["packages"]["code"]
    assert code["version"] and code == json.loads(json.dumps(code_version()))
    if (ROOT / ".git").exists():
        assert len(code["git_commit"]) == 40


# ---- links (11) -------------------------------------------------------------------------------


def test_links_to_videos_are_counted_and_explained(tmp_path, capsys):
    only_links = tmp_path / "links"
    only_links.mkdir()
    os.symlink(EXAMPLE_VIDEO, only_links / "a.mp4")
    assert _exit_code(["gaze-dataset", str(only_links), "--out", str(tmp_path / "ds"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "skipped 1 link to videos" in err and "not followed" in err
    assert not (tmp_path / "ds").exists()
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "real.mp4").write_bytes(EXAMPLE_VIDEO.read_bytes())
    for name in ("b.mp4", "c.mp4"):
        os.symlink(EXAMPLE_VIDEO, mixed / name)
    from playground.dataset import find_inputs

    skipped: list = []
    assert find_inputs([str(mixed)], skipped) == [mixed / "real.mp4"] and len(skipped) == 2
    assert _exit_code(["evaluate-gazer", "random", "--videos", str(only_links), "--out", str(tmp_path / "e")]) == 2
    assert "skipped 1 link" in capsys.readouterr().err


# ---- evaluate-gazer's folder (11) -------------------------------------------------------------


def test_evaluate_gazer_writes_into_runs_by_default_and_says_where(tmp_path, monkeypatch, capsys):
    from playground.cli.evaluate_gazer import default_out
    from playground.synthetic import moving_square
    from playground.video import write_video

    assert str(default_out("random")) == os.path.join("runs", "evaluate-gazer", "random")
    run = tmp_path / "grpo" / "checkpoint-40"
    run.mkdir(parents=True)
    assert str(default_out(str(run))) == os.path.join("runs", "evaluate-gazer", "grpo-checkpoint-40")
    videos = tmp_path / "videos"
    write_video(videos / "v.mp4", moving_square(16, 64, 64), fps=8, preset="ultrafast")
    monkeypatch.chdir(tmp_path)
    started = time.perf_counter()
    assert (
        main(["evaluate-gazer", "random", "--videos", str(videos), "--size", "64", "--threshold", "0", "--quiet"]) == 0
    )
    assert time.perf_counter() - started < 60
    assert "runs/evaluate-gazer/random" in capsys.readouterr().err
    assert (tmp_path / "runs" / "evaluate-gazer" / "random" / "evaluation.json").is_file()
    assert not (tmp_path / "evaluation").exists()
