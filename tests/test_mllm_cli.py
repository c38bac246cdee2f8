"""`python -m playground ask`: both answers and the comparison table; bad input exits 2 with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from playground.cli import main
from playground.mllm.random_models import save_tiny_smolvlm


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ask")
    folder = save_tiny_smolvlm(root / "model")
    video = root / "clip.npy"
    np.save(video, np.random.default_rng(1).integers(0, 256, (4, 48, 64, 3), dtype=np.uint8))
    return root, str(folder), str(video)


def test_mllm_cli_ask_prints_both_answers_and_table(setup, capsys):
    root, folder, video = setup
    out = root / "answers.json"
    code = main(
        [
            "ask",
            video,
            "What happens?",
            "--mllm",
            folder,
            "--gazer",
            "random",
            "--gazing-ratio",
            "0.2",
            "--frames",
            "3",
            "--max-new-tokens",
            "3",
            "--attention",
            "frame_independent",
            "--count-flops",
            "--json",
            str(out),
            "--device",
            "cpu",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "\nfull " in printed and "\ngazed " in printed
    assert "GFLOPs vision_encoder" in printed and "seconds llm_prefill" in printed and "measured" in printed
    data = json.loads(out.read_text())
    assert data["full"]["vision_tokens"] == 3 * 196
    assert data["gazed"]["attention"] == "frame_independent"
    assert data["gazed"]["vision_tokens"] == 3 * int(np.float32(0.2) * np.float32(265))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["missing.npy", "Q?"], "no such file"),
        (["{video}", "Q?", "--mllm", "nvidia/NVILA-8B-HD-Video"], "trust_remote_code"),
        (["{video}", "Q?", "--attention", "causal"], "invalid choice"),
        (["{video}", "Q?", "--gazing-ratio", "1.5"], "gazing-ratio"),
        (["{video}", " ", "--mllm", "{folder}"], "question is empty"),
        (["{video}", "Q?", "--max-new-tokens", "1000000000"], "between 1 and 1024"),
        (["{video}", "Q" * 20_001, "--mllm", "{folder}"], "at most 20,000 are taken"),
        (["{video}", "Q?", "--mllm", "{folder}", "--json", "{video}/a.json"], "exists and is not a folder"),
        (
            ["{video}", "Q?", "--mllm", "{folder}", "--conditions", "full,evs"],
            "prunes to a gazed condition's LLM tokens",
        ),
    ],
)
def test_mllm_cli_bad_input_exits_2(setup, capsys, argv, message):
    root, folder, video = setup
    try:
        code = main(["ask", *[a.format(video=video, folder=folder) for a in argv]])
    except SystemExit as exc:  # argparse rejects bad option values itself, also with status 2
        code = exc.code
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2
    assert len(lines) == 1 and message in lines[0]


def test_mllm_cli_ask_json_into_a_new_folder(setup, tmp_path):
    _, folder, video = setup
    out = tmp_path / "missing_folder" / "a.json"
    assert (
        main(
            [
                "ask",
                video,
                "Q?",
                "--mllm",
                folder,
                "--gazer",
                "random",
                "--frames",
                "2",
                "--max-new-tokens",
                "1",
                "--json",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert set(json.loads(out.read_text())) == {"full", "gazed"}


def test_mllm_question_and_answer_lengths_are_bounded_before_the_model_runs(setup):
    from playground import load_mllm
    from playground.errors import PlaygroundError

    _, folder, video = setup
    mllm = load_mllm(folder, device="cpu")
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    with pytest.raises(PlaygroundError, match="from 1 to 1024"):
        mllm.answer(frames, "Q?", max_new_tokens=10**9)
    with pytest.raises(PlaygroundError, match="characters long"):
        mllm.answer(frames, "Q" * 5_000_000)
    with pytest.raises(PlaygroundError, match="tokens long"):  # within the characters, over the tokens
        mllm.answer(frames, " ".join(["x"] * 9_000))


def test_mllm_cli_ask_refuses_remote_code_even_when_stdin_says_yes(setup, remote_code_folder):
    import subprocess
    import sys
    from pathlib import Path

    _, _, video = setup
    folder, marker = remote_code_folder
    done = subprocess.run(
        [sys.executable, "-m", "playground", "ask", video, "Q?", "--mllm", str(folder), "--device", "cpu"],
        input="y\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(errors) == 1 and "--trust-remote-code" in errors[0] and "Traceback" not in done.stderr
    assert not marker.exists(), "the folder's Python code ran without --trust-remote-code"


def test_mllm_cli_ask_with_the_built_in_tiny_model_says_its_weights_are_random(setup, capsys):
    _, _, video = setup
    code = main(
        [
            "ask",
            video,
            "What happens?",
            "--mllm",
            "tiny-random-smolvlm2",
            "--gazer",
            "random",
            "--frames",
            "2",
            "--max-new-tokens",
            "2",
            "--device",
            "cpu",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "model     tiny-random-smolvlm2" in printed
    assert "random weights: shows the mechanics and costs, not answers" in printed


def test_mllm_cli_ask_post_vit_conditions_keep_the_gazed_answers_tokens(setup, capsys, tmp_path):
    root, folder, video = setup
    out = tmp_path / "answers.json"
    assert (
        main(
            [
                "ask",
                video,
                "Q?",
                "--mllm",
                folder,
                "--gazer",
                "random",
                "--gazing-ratio",
                "0.2",
                "--frames",
                "2",
                "--max-new-tokens",
                "2",
                "--conditions",
                "full,gazed,evs,drop-uniform",
                "--json",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "\nevs " in printed and "drop-uniform" in printed and "seconds prune" in printed
    data = json.loads(out.read_text())
    assert list(data) == ["full", "gazed", "evs", "drop-uniform"]
    for name in ("evs", "drop-uniform"):
        assert data[name]["llm_vision_tokens"] == data["gazed"]["llm_vision_tokens"]
        assert data[name]["vision_tokens"] == data["full"]["vision_tokens"] and data[name]["path"] == "pruned"
