"""`python -m playground eval`: question formats, scoring, statistics, records, resume, ranks, bad input.

A generated 6-question set (`evaluation.example_rows`) in each format, over the two clips in assets/,
answered by the built-in tiny random SmolVLM2 (`tiny-random-smolvlm2`, built in code) under `full`
and `gazed`, with 2 frames and 2 new tokens. Its answers are noise; what is checked is the run's
bookkeeping, which does not depend on the answers being right.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from playground.cli import main
from playground.errors import PlaygroundError
from playground.evaluation import (
    EvalSettings,
    RankShare,
    build_prompt,
    detect_format,
    example_rows,
    extract_letter,
    mcnemar_exact,
    parse_conditions,
    read_questions,
    run_eval,
    score,
    wilson_interval,
    write_rows,
)
from playground.evaluation.questions import read_rows
from playground.evaluation.records import RECORDS, merge_records, read_records
from playground.evaluation.stats import paired_difference

ASSETS = Path(__file__).resolve().parents[1] / "assets"
MLLM = "tiny-random-smolvlm2"
FAST = ["--mllm", MLLM, "--frames", "2", "--max-new-tokens", "2", "--device", "cpu", "--quiet"]
FILES = {"hlvid": "questions.jsonl", "video-mme": "questions.parquet", "mvbench": "questions.csv"}


@pytest.fixture(scope="module", autouse=True)
def _one_thread_for_the_module():
    """One torch thread while the module's fixtures run: the tiny model's matmuls gain nothing from two,
    and on a busy 2-core machine two OpenMP threads waiting for each other made a run 5x slower."""
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # conftest gives the suite's threads back after each test


def settings() -> EvalSettings:
    return EvalSettings(MLLM, parse_conditions("full,gazed"), frames=2, max_new_tokens=2, device="cpu")


def stable(records: list[dict]) -> list[dict]:
    """Records without what differs from run to run (wall times, which rank answered)."""
    out = []
    for r in records:
        r = {k: v for k, v in r.items() if k not in ("read_seconds", "rank")}
        r["conditions"] = {c: {k: v for k, v in a.items() if k != "seconds"} for c, a in r["conditions"].items()}
        out.append(r)
    return out


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval-sets")
    return {fmt: write_rows(example_rows(fmt), root / name) for fmt, name in FILES.items()}


@pytest.fixture(scope="module")
def runs(sets, tmp_path_factory) -> dict[str, Path]:
    """Each format's set run once through the CLI, both conditions: {format: out folder}."""
    root = tmp_path_factory.mktemp("eval-runs")
    for fmt, path in sets.items():
        assert main(["eval", str(path), "--videos", str(ASSETS), "--out", str(root / fmt), *FAST]) == 0
    return {fmt: root / fmt for fmt in sets}


# ---- scoring, prompt, statistics ------------------------------------------------------------


@pytest.mark.parametrize(
    "text, letter",
    [
        ("B", "B"),
        ("Answer: (c)", "C"),
        ("I think D.", "D"),
        ("none", None),
        ("The best answer is A.", "A"),
        ("(b)", "B"),
        ("E.", "E"),
        ("Because it runs", None),
        ("", None),
        ("best option: (A) a rabbit", "A"),
    ],
)
def test_eval_letter_extraction_on_hand_made_answers(text, letter):
    assert extract_letter(text) == letter


def test_eval_score_counts_unparsed_apart_and_wrong():
    assert score("Answer: (c)", "C").correct and score("B", "C").parsed and not score("B", "C").correct
    none = score("none", "A")
    assert not none.parsed and not none.correct


def test_eval_prompt_asks_for_the_letter_only(sets):
    questions, _ = read_questions(sets["video-mme"], ASSETS)
    prompt = build_prompt(questions[0])
    assert prompt.splitlines()[0].endswith("Respond with only the letter (A, B, C, or D) of the correct option.")
    assert "A. a rabbit" in prompt and prompt.endswith(
        "Answer with the option's letter from the given choices directly."
    )


def test_eval_statistics_known_values():
    low, high = wilson_interval(3, 6)
    assert (round(low, 4), round(high, 4)) == (0.1876, 0.8124)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert mcnemar_exact(0, 5) == 2 / 32 and mcnemar_exact(4, 4) == 1.0 and mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 1024)  # P(X <= 1), X ~ Bin(10, 1/2)
    diff, lo, hi = paired_difference(1, 3, 10)
    assert diff == pytest.approx(0.2) and lo < 0 < hi


# ---- formats --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FILES))
@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".parquet"])
def test_eval_detects_each_format_in_each_file_type(fmt, suffix, tmp_path):
    path = write_rows(example_rows(fmt), tmp_path / f"q{suffix}")
    questions, found = read_questions(path, ASSETS)
    assert found == fmt
    assert [q.answer for q in questions] == ["A", "B", "C", "D", "A", "B"]
    assert [q.num_options for q in questions] == [4] * 6
    assert all(Path(q.video).is_file() for q in questions)


def test_eval_example_file_in_assets_is_the_generated_set():
    """assets/example_questions.jsonl (the README's offline command) is `example_rows("hlvid")`, and reads back."""
    assert read_rows(ASSETS / "example_questions.jsonl") == example_rows("hlvid")
    questions, fmt = read_questions(ASSETS / "example_questions.jsonl")  # videos beside the file
    assert fmt == "hlvid" and all(Path(q.video).is_file() for q in questions)


def test_eval_format_override_and_a_row_in_no_format():
    row = example_rows("video-mme")[0]
    with pytest.raises(
        PlaygroundError, match="row 1 fits no known question format: closest is Video-MME, which needs 'options'"
    ):
        detect_format({k: v for k, v in row.items() if k != "options"})
    assert detect_format(row) == "video-mme"


# ---- runs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FILES))
def test_eval_cli_writes_records_summary_and_report(runs, fmt):
    out = runs[fmt]
    records = read_records(out / RECORDS)
    assert len(records) == 6 and len({r["question_id"] for r in records}) == 6
    for r in records:
        assert r["error"] is None and set(r["conditions"]) == {"full", "gazed"}
        full, gazed = r["conditions"]["full"], r["conditions"]["gazed"]
        assert gazed["tokens"]["vision"] < full["tokens"]["vision"]
        assert gazed["flops"]["gazer"] is not None and full["flops"]["gazer"] is None
        assert gazed["seconds"]["total"] >= gazed["seconds"]["gazer"] > 0
        assert full["correct"] == (full["letter"] == r["answer"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == {"questions": 6, "answered": 6, "errors": 0, "not_yet_answered": 0}
    pair = summary["paired"][0]
    assert pair["first"] == "full" and pair["second"] == "gazed"
    assert pair["both_right"] + pair["right_to_wrong"] + pair["wrong_to_right"] + pair["both_wrong"] == 6
    report = (out / "report.md").read_text()
    assert "n = 6 questions" in report and "McNemar" in report and "random weights" in report
    assert "within noise" in report or "better" in report or "worse" in report
    assert "plotly" in (out / "report.html").read_text()


def test_eval_resume_after_an_interrupt_gives_the_same_records(sets, runs, tmp_path):
    questions, fmt = read_questions(sets["hlvid"], ASSETS)
    out = tmp_path / "resumed"

    def stop_after_three(done, total):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_eval(questions, out, settings(), fmt, progress=stop_after_three)
    assert len(read_records(out / RECORDS)) == 3 and not (out / "summary.json").exists()
    with open(out / RECORDS, "a") as f:
        f.write('{"question_id": "ex-3", "vid')  # a line cut short by a kill
    again = run_eval(questions, out, settings(), fmt)
    assert (again.skipped, again.answered) == (3, 3)
    assert stable(read_records(out / RECORDS)) == stable(read_records(runs["hlvid"] / RECORDS))
    assert run_eval(questions, out, settings(), fmt).answered == 0  # all done: nothing is loaded or answered


def test_eval_ranks_write_their_own_records_and_rank_0_merges(sets, runs, tmp_path):
    questions, fmt = read_questions(sets["hlvid"], ASSETS)
    out = tmp_path / "ranks"
    second = run_eval(questions, out, settings(), fmt, share=RankShare(1, 2))  # no process group: no barrier
    assert second.summary is None and len(read_records(out / "records-rank1.jsonl")) == 3
    first = run_eval(questions, out, settings(), fmt, share=RankShare(0, 2))
    assert first.summary["n"]["answered"] == 6 and not list(out.glob("records-rank*"))
    merged = read_records(out / RECORDS)
    assert [r["rank"] for r in merged] == [0, 1, 0, 1, 0, 1]
    assert stable(merged) == stable(read_records(runs["hlvid"] / RECORDS))


def test_eval_merge_keeps_the_latest_record_of_a_question(tmp_path):
    (tmp_path / RECORDS).write_text(json.dumps({"question_id": "a", "error": "no such file"}) + "\n")
    (tmp_path / "records-rank1.jsonl").write_text(json.dumps({"question_id": "b", "error": None}) + "\n")
    (tmp_path / "records-rank0.jsonl").write_text(json.dumps({"question_id": "a", "error": None}) + "\n")
    merged = merge_records(tmp_path, ["a", "b"])
    assert merged == [{"question_id": "a", "error": None}, {"question_id": "b", "error": None}]
    assert read_records(tmp_path / RECORDS) == merged and sorted(p.name for p in tmp_path.iterdir()) == [RECORDS]


# ---- bad input ------------------------------------------------------------------------------


def test_eval_missing_video_is_one_error_row_and_the_run_goes_on(tmp_path, capsys):
    rows = example_rows("hlvid", 3)
    rows[1]["video_path"] = "no_such_clip.mp4"
    path = write_rows(rows, tmp_path / "q.jsonl")
    assert main(["eval", str(path), "--videos", str(ASSETS), "--out", str(tmp_path / "out"), *FAST]) == 0
    records = read_records(tmp_path / "out" / RECORDS)
    assert [bool(r["error"]) for r in records] == [False, True, False]
    assert "no_such_clip.mp4" in records[1]["error"] and records[1]["conditions"] == {}
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("not answered")]
    assert len(err) == 1 and "ex-1" in err[0]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["n"]["answered"] == 2 and summary["n"]["errors"] == 1


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{**example_rows("hlvid", 1)[0], "answer": "maybe"}], "q.jsonl row 1: 'answer' must be one of the letters"),
        (
            [example_rows("hlvid", 1)[0], {"question_id": "x", "category": "c", "question": "Q?", "answer": "A"}],
            "q.jsonl row 2 (HLVid) has no 'video_path'",
        ),
        ([{"a": 1, "b": 2}], "q.jsonl row 1 fits no known question format"),
        (
            [{**example_rows("mvbench", 1)[0], "answer": "a unicorn"}],
            "'answer' 'a unicorn' is not one of its 'candidates'",
        ),
        ([example_rows("hlvid", 1)[0]] * 2, "question_id 'ex-0' is also row 1"),
    ],
)
def test_eval_bad_question_file_is_one_line_and_exit_2(tmp_path, capsys, rows, message):
    path = write_rows(rows, tmp_path / "q.jsonl")
    assert main(["eval", str(path), "--videos", str(ASSETS), "--out", str(tmp_path / "out"), *FAST]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "out" / RECORDS).exists()


@pytest.mark.parametrize(
    "case", ["deep JSON file", "deep JSONL line", "deep options", "long field CSV", "long question"]
)
def test_eval_hostile_question_files_are_one_line_and_exit_2(tmp_path, capsys, case):
    row = example_rows("video-mme", 1)[0]
    path = tmp_path / "q.jsonl"
    if case == "deep JSON file":
        path = tmp_path / "q.json"
        path.write_text("[" * 200_000 + "]" * 200_000)
    elif case == "deep JSONL line":
        path.write_text(json.dumps(row) + "\n" + "[" * 200_000 + "]" * 200_000 + "\n")
    elif case == "deep options":
        write_rows([{**row, "options": "[" * 200_000 + "]" * 200_000}], path)
    elif case == "long field CSV":
        path = write_rows([{**row, "question": "Q" * 200_000}], tmp_path / "q.csv")
    else:
        write_rows([{**row, "question": "Q" * 5_000_000}], path)
    assert main(["eval", str(path), "--videos", str(ASSETS), "--out", str(tmp_path / "out"), *FAST]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert not (tmp_path / "out").exists()


def test_eval_resume_refuses_a_deep_record_line_in_one_line(sets, runs, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(runs["hlvid"], out)
    with open(out / RECORDS, "a") as f:
        f.write("[" * 200_000 + "]" * 200_000 + "\n")
    assert main(["eval", str(sets["hlvid"]), "--videos", str(ASSETS), "--out", str(out), *FAST]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "nested" in lines[0], lines


def test_eval_bad_options_are_one_line_and_exit_2(sets, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    cases = [
        (["--conditions", "full,full"], "names a condition twice"),
        (["--conditions", "gazed@2"], "must be in (0, 1]"),
        (["--conditions", "full,evs"], "prunes to a gazed condition's LLM tokens"),
        (["--conditions", "full,gazed,evs:gazed@0.3"], "'gazed@0.3' is not one of the gazed conditions"),
        (["--out", str(tmp_path / "file")], "exists and is not a folder"),
        (["--format", "mvbench"], "(MVBench) has no 'video', 'candidates'"),
    ]
    for extra, message in cases:
        argv = ["eval", str(sets["hlvid"]), "--videos", str(ASSETS), "--out", str(tmp_path / "out"), *FAST, *extra]
        assert main(argv) == 2, extra
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0], (extra, lines)
    shutil.rmtree(tmp_path / "out", ignore_errors=True)


def test_eval_count_flops_measures_what_the_analytic_flops_say(sets, tmp_path):
    out = tmp_path / "counted"
    assert (
        main(
            [
                "eval",
                str(sets["hlvid"]),
                "--videos",
                str(ASSETS),
                "--out",
                str(out),
                "--limit",
                "1",
                "--count-flops",
                *FAST,
            ]
        )
        == 0
    )
    for c in read_records(out / RECORDS)[0]["conditions"].values():
        assert c["measured_flops"]["total"] == c["flops"]["total"]
        assert c["measured_flops"]["gazer"] == c["flops"]["gazer"]


def test_eval_post_vit_conditions_order_and_budget_source():
    names = [c.name for c in parse_conditions("drop-random,evs:gazed@0.3,gazed@0.3,full,gazed")]
    assert names == ["full", "gazed@0.3", "gazed", "drop-random", "evs:gazed@0.3"]
    sources = {c.name: c.budget_from for c in parse_conditions("drop-random,evs:gazed@0.3,gazed@0.3,gazed")}
    assert sources["drop-random"] == "gazed" and sources["evs:gazed@0.3"] == "gazed@0.3"
    assert parse_conditions("full,gazed")[1].meaning() == {
        "name": "gazed",
        "gazer": "framediff",
        "gazing_ratio": 0.1,
        "threshold": None,
        "attention": "block_causal",
    }


def test_eval_post_vit_conditions_keep_the_gazed_tokens_and_report_all_pairs(sets, tmp_path):
    """evs and drop-uniform: the stock ViT (tokens, FLOPs), the gazed condition's LLM vision tokens; every pair
    of the three conditions gets McNemar's test; the report has the break-even table and the plot its lines."""
    out = tmp_path / "pruned"
    assert (
        main(
            [
                "eval",
                str(sets["hlvid"]),
                "--videos",
                str(ASSETS),
                "--out",
                str(out),
                "--limit",
                "2",
                "--conditions",
                "full,gazed,evs,drop-uniform",
                *FAST,
            ]
        )
        == 0
    )
    for r in read_records(out / RECORDS):
        full, gazed = r["conditions"]["full"], r["conditions"]["gazed"]
        for name in ("evs", "drop-uniform"):
            pruned = r["conditions"][name]
            assert pruned["tokens"]["llm_vision"] == gazed["tokens"]["llm_vision"]
            assert pruned["tokens"]["vision"] == full["tokens"]["vision"]
            assert pruned["flops"]["vision_encoder"] == full["flops"]["vision_encoder"]
            assert pruned["seconds"]["prune"] is not None and pruned["flops"]["gazer"] is None
    summary = json.loads((out / "summary.json").read_text())
    assert [(p["first"], p["second"]) for p in summary["paired"]] == [
        ("full", "gazed"),
        ("full", "evs"),
        ("full", "drop-uniform"),
        ("gazed", "evs"),
        ("gazed", "drop-uniform"),
        ("evs", "drop-uniform"),
    ]
    b = summary["break_even"][0]
    costs = summary["conditions"]
    assert (b["gazed"], b["pruned"]) == ("gazed", "evs") and b["flops"]["pays_off"] is not None
    saved = sum(costs["evs"]["mean_flops"][s] or 0 for s in ("vision_encoder", "connector")) - sum(
        costs["gazed"]["mean_flops"][s] or 0 for s in ("vision_encoder", "connector")
    )
    assert b["flops"]["saved"] == pytest.approx(saved) and b["flops"]["net"] == pytest.approx(
        saved - costs["gazed"]["mean_flops"]["gazer"]
    )
    assert "Gazing before the ViT vs pruning after it" in (out / "report.md").read_text()
    assert "break-even gazed vs evs" in (out / "report.html").read_text()
