"""Benchmark evaluation: a gazed MLLM against the same model on every patch, over a whole question set.

`python -m playground eval QUESTIONS --videos DIR --mllm NAME --conditions full,gazed --out DIR`
(`cli/eval.py`; docs/eval.md) runs `run.run_eval`. What lives where:

- `questions.py`: the HLVid, Video-MME and MVBench row formats, read from JSONL, JSON, CSV or
  Parquet, told apart from their fields; `Question`; a small example set over the bundled clips;
- `scoring.py`: the lmms-eval prompt, the letter read from an answer, exact-match scoring;
- `stats.py`: Wilson 95 % intervals, the paired difference, McNemar's exact test;
- `run.py`: conditions, settings, the per-question work (`Answerer`), resume, torchrun rank shares, Ray;
- `records.py`: records.jsonl, the per-rank record files and their merge, run.json;
- `report.py`: summary.json, report.md and report.html.

This is not `training.evaluate_gazer` (`evaluate-gazer`), which scores a gazer's reconstructions.
"""

from .questions import FORMATS, Question, detect_format, example_rows, read_questions, write_rows
from .report import report_text, summarize
from .run import Condition, EvalRun, EvalSettings, RankShare, parse_conditions, run_eval
from .scoring import build_prompt, extract_letter, score
from .stats import mcnemar_exact, wilson_interval

__all__ = [
    "FORMATS",
    "Question",
    "detect_format",
    "example_rows",
    "read_questions",
    "write_rows",
    "report_text",
    "summarize",
    "Condition",
    "EvalRun",
    "EvalSettings",
    "RankShare",
    "parse_conditions",
    "run_eval",
    "build_prompt",
    "extract_letter",
    "score",
    "mcnemar_exact",
    "wilson_interval",
]
