"""Question sets: reading rows (JSONL, JSON, CSV, Parquet), telling the format apart, and `Question`.

Three formats are known; each row becomes one `Question`:

- `hlvid` (HLVid): `question_id, category, video_path, question` (its options written inside the
  question), `answer` (a letter);
- `video-mme` (Video-MME): `videoID, question_id, duration, domain, sub_category, task_type,
  question, options` (a list of "A. ..." lines), `answer` (a letter); the video is `VIDEOS/<videoID>.mp4`;
- `mvbench` (MVBench): `video, question, candidates` (the option texts), `answer` (the option's
  text); an optional `question_id` (else the row number) and `task_type`.

`read_questions(path, videos, fmt=None)` reads a file, detects its format from the first row
(`detect_format`; `fmt` overrides it) and checks every row: a row that fits no format, misses a
field or holds a bad value is one `PlaygroundError` line naming the file, the row and the field.
Videos are resolved against `videos` but not opened here: a missing video is an error row of the
run (`run.py`), not bad input. `example_rows(fmt)` makes a small set over the bundled clips.
"""

from __future__ import annotations

import ast
import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..errors import PlaygroundError, check
from ..jsonio import json_depth, parse
from ..knobs import FORMATS
from ..mllm.answer import MAX_QUESTION_CHARS
from ..video import VIDEO_SUFFIXES

LETTERS = "ABCDE"  # option letters a question may have (and an answer may be parsed as)
FORMAT_TITLES = {"hlvid": "HLVid", "video-mme": "Video-MME", "mvbench": "MVBench"}
FORMAT_ALIASES = {"videomme": "video-mme", "video_mme": "video-mme", "hl-vid": "hlvid"}
REQUIRED = {  # the fields each format needs, in the order its rows list them
    "hlvid": ("question_id", "category", "video_path", "question", "answer"),
    "video-mme": (
        "videoID",
        "question_id",
        "duration",
        "domain",
        "sub_category",
        "task_type",
        "question",
        "options",
        "answer",
    ),
    "mvbench": ("video", "question", "candidates", "answer"),
}
GROUP_FIELDS = ("duration", "domain", "task_type", "category")  # per-category accuracy, where a row has them
SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")


@dataclass
class Question:
    """One multiple-choice question about one video."""

    question_id: str  # unique in its file: the key a resumed run skips by
    video: str  # the video file, resolved against --videos (not checked here)
    question: str  # the question text (HLVid: its options are inside it)
    options: list[str] = field(default_factory=list)  # option lines as shown ("A. ..."); empty when inside the question
    answer: str = "A"  # the correct letter
    num_options: int = 0  # how many options the question has (0: not known, HLVid without lettered lines)
    groups: dict[str, str] = field(default_factory=dict)  # GROUP_FIELDS the row has -> its value
    row: int = 0  # 1-based row in the file, for messages


# ---- reading rows --------------------------------------------------------------------------


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a question file as dicts, by its suffix (.jsonl, .json, .csv, .parquet)."""
    path = Path(path)
    check(path.is_file(), f"no such question file: {path}")
    suffix = path.suffix.lower()
    check(
        suffix in SUFFIXES,
        f"{path.name}: unknown question file type {suffix or '(none)'}; give one of {', '.join(SUFFIXES)}",
    )
    try:
        rows = {".jsonl": _jsonl_rows, ".json": _json_rows, ".csv": _csv_rows, ".parquet": _parquet_rows}[suffix](path)
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaygroundError(f"cannot read {path}: {exc}") from None
    check(len(rows) > 0, f"{path.name} holds no questions")
    for i, row in enumerate(rows, 1):
        check(isinstance(row, dict), f"{path.name} row {i} is not an object with named fields")
    return rows


def _jsonl_rows(path: Path) -> list[Any]:
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            rows.append(parse(line, f"{path.name} line {n}"))
    return rows


def _json_rows(path: Path) -> list[Any]:
    data = parse(path.read_bytes(), path.name)
    check(isinstance(data, list), f"{path.name} must hold a JSON list of questions")
    return data


def _csv_rows(path: Path) -> list[Any]:
    with open(path, newline="") as f:
        try:
            return [dict(row) for row in csv.DictReader(f)]
        except csv.Error as exc:  # e.g. a field over the csv module's 128 kB limit
            raise PlaygroundError(f"cannot read {path.name} as CSV: {exc}") from None


def _parquet_rows(path: Path) -> list[Any]:
    import pyarrow.parquet as pq  # lazy: only Parquet files need it

    try:
        return pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow's errors have no common base
        raise PlaygroundError(f"cannot read {path.name} as Parquet: {str(exc).splitlines()[0]}") from None


def write_rows(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write rows as a question file of `path`'s type (what `read_rows` reads back)."""
    from ..jsonio import atomic_write

    path = Path(path)
    suffix = path.suffix.lower()
    check(suffix in SUFFIXES, f"unknown question file type {suffix}; give one of {', '.join(SUFFIXES)}")
    with atomic_write(path) as tmp:
        if suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(list(rows)), tmp)
        elif suffix == ".csv":
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows({k: json.dumps(v) if isinstance(v, list) else v for k, v in r.items()} for r in rows)
        elif suffix == ".json":
            tmp.write_text(json.dumps(list(rows), indent=1))
        else:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# ---- formats -------------------------------------------------------------------------------


def format_name(text: str) -> str:
    """A format's canonical name from what a user typed (`--format`)."""
    name = FORMAT_ALIASES.get(str(text).strip().lower(), str(text).strip().lower())
    check(name in FORMATS, f"unknown question format {text!r}; give one of {', '.join(FORMATS)}")
    return name


def detect_format(row: dict[str, Any], where: str = "row 1") -> str:
    """The format whose fields the row has; else one line naming the closest format's missing fields."""
    missing = {fmt: [f for f in fields if f not in row] for fmt, fields in REQUIRED.items()}
    fits = [fmt for fmt in FORMATS if not missing[fmt]]
    if fits:
        return fits[0]
    closest = min(FORMATS, key=lambda fmt: len(missing[fmt]) / len(REQUIRED[fmt]))
    have = len(REQUIRED[closest]) - len(missing[closest])
    if have == 0:
        raise PlaygroundError(
            f"{where} fits no known question format ({_formats_needed()}); "
            f"it has {', '.join(map(repr, list(row)[:8])) or 'no fields'}"
        )
    raise PlaygroundError(
        f"{where} fits no known question format: closest is {FORMAT_TITLES[closest]}, "
        f"which needs {', '.join(map(repr, missing[closest]))}"
    )


def _formats_needed() -> str:
    return "; ".join(f"{FORMAT_TITLES[f]}: {', '.join(REQUIRED[f])}" for f in FORMATS)


def read_questions(
    path: str | Path, videos: str | Path | None = None, fmt: str | None = None
) -> tuple[list[Question], str]:
    """The questions of a file and its format (see the module doc).

    Args:
        path: a .jsonl, .json, .csv or .parquet file.
        videos: the folder the rows' videos are in (default: the question file's folder).
        fmt: a format name to use instead of detecting it.
    """
    path = Path(path)
    rows = read_rows(path)
    fmt = format_name(fmt) if fmt else detect_format(rows[0], f"{path.name} row 1")
    folder = Path(videos) if videos is not None else path.parent
    questions = [parse_row(row, fmt, folder, f"{path.name} row {n}", n) for n, row in enumerate(rows, 1)]
    seen: dict[str, int] = {}
    for q in questions:
        check(
            q.question_id not in seen,
            f"{path.name} row {q.row}: question_id {q.question_id!r} is also row "
            f"{seen.get(q.question_id)}; every question needs its own id",
        )
        seen[q.question_id] = q.row
    return questions, fmt


def parse_row(row: dict[str, Any], fmt: str, videos: Path, where: str, number: int) -> Question:
    """One row of format `fmt` as a `Question`; a one-line error naming `where` and the field."""
    missing = [f for f in REQUIRED[fmt] if f not in row or row[f] is None]
    check(not missing, f"{where} ({FORMAT_TITLES[fmt]}) has no {', '.join(map(repr, missing))}")
    question = _text(row, "question", where)
    check(
        len(question) <= MAX_QUESTION_CHARS,
        f"{where}: the question is {len(question):,} characters long; at most {MAX_QUESTION_CHARS:,} are taken",
    )
    groups = {g: str(row[g]).strip() for g in GROUP_FIELDS if row.get(g) not in (None, "")}
    if fmt == "hlvid":
        return Question(
            _text(row, "question_id", where),
            str(videos / _text(row, "video_path", where)),
            question,
            [],
            _letter(row["answer"], where),
            _count_options(question),
            groups,
            number,
        )
    if fmt == "video-mme":
        options = _options(row["options"], where)
        return Question(
            _text(row, "question_id", where),
            _video_of(videos, _text(row, "videoID", where)),
            question,
            options,
            _letter(row["answer"], where, len(options)),
            len(options),
            groups,
            number,
        )
    candidates = _options(row["candidates"], where, "candidates")
    answer = str(row["answer"]).strip()
    check(answer in [c.strip() for c in candidates], f"{where}: 'answer' {answer!r} is not one of its 'candidates'")
    letter = LETTERS[[c.strip() for c in candidates].index(answer)]
    qid = str(row.get("question_id") or row.get("id") or f"row-{number}").strip()
    return Question(
        qid,
        str(videos / _text(row, "video", where)),
        question,
        [f"{LETTERS[i]}. {c.strip()}" for i, c in enumerate(candidates)],
        letter,
        len(candidates),
        groups,
        number,
    )


def _text(row: dict[str, Any], name: str, where: str) -> str:
    value = row.get(name)
    check(
        isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip() != "",
        f"{where}: {name!r} must be non-empty text, got {value!r}",
    )
    return str(value).strip()


def _letter(value: Any, where: str, options: int | None = None) -> str:
    """The answer letter ('B', '(B)', 'b.' ...) checked against the options."""
    text = str(value).strip().strip("().:").upper()
    allowed = LETTERS[:options] if options else LETTERS
    check(
        len(text) == 1 and text in allowed,
        f"{where}: 'answer' must be one of the letters {', '.join(allowed)}, got {value!r}",
    )
    return text


def _options(value: Any, where: str, name: str = "options") -> list[str]:
    """A list of option texts: a list (JSON, Parquet) or, from CSV, a JSON or Python list written as text."""
    if isinstance(value, str):
        check(json_depth(value) <= 1, f"{where}: {name!r} must be a flat list of texts, got {value[:60]!r}")
        try:
            value = parse(value, f"{where}: {name!r}")
        except PlaygroundError:
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError, RecursionError, MemoryError):
                raise PlaygroundError(f"{where}: {name!r} must be a list, got {value[:60]!r}") from None
    if hasattr(value, "tolist"):  # a numpy array (pandas-made Parquet)
        value = value.tolist()
    check(
        isinstance(value, (list, tuple)) and all(isinstance(v, str) and v.strip() for v in value),
        f"{where}: {name!r} must be a list of texts, got {value!r}",
    )
    check(2 <= len(value) <= len(LETTERS), f"{where}: {name!r} must hold 2 to {len(LETTERS)} options, got {len(value)}")
    return [str(v).strip() for v in value]


def _count_options(question: str) -> int:
    """Lettered option lines in a question ('A. ...', '(B) ...', 'C) ...'): the letters in a row from A."""
    found = {m.group(1) for m in re.finditer(r"^\s*\(?([A-E])[.)]\s", question, flags=re.MULTILINE)}
    count = 0
    while count < len(LETTERS) and LETTERS[count] in found:
        count += 1
    return count


def _video_of(videos: Path, video_id: str) -> str:
    """Video-MME's video: VIDEOS/<videoID>.mp4, or the first other video suffix that exists."""
    for suffix in VIDEO_SUFFIXES:
        if (videos / f"{video_id}{suffix}").is_file():
            return str(videos / f"{video_id}{suffix}")
    return str(videos / f"{video_id}.mp4")


# ---- a small example set over the bundled clips ----------------------------------------------

_EXAMPLES = [  # (clip in assets/, category, question, options separated by |, answer)
    ("bigbuckbunny_clip.mp4", "objects", "Which animal comes out of the burrow?", "a rabbit|a dog|a fish|a horse", "A"),
    (
        "bigbuckbunny_clip.mp4",
        "scene",
        "Where does the scene take place?",
        "in a kitchen|on a meadow|under water|in space",
        "B",
    ),
    ("bigbuckbunny_clip.mp4", "colour", "What colour is most of the ground?", "red|blue|green|white", "C"),
    (
        "synthetic_square.mp4",
        "objects",
        "What shape moves across the frame?",
        "a circle|a triangle|a star|a square",
        "D",
    ),
    ("synthetic_square.mp4", "colour", "What colour is the moving shape?", "white|black|purple|orange", "A"),
    (
        "synthetic_square.mp4",
        "motion",
        "How does the shape move?",
        "it stays still|it moves across the frame|it spins in place|it grows",
        "B",
    ),
]


def example_rows(fmt: str = "hlvid", count: int = 6) -> list[dict[str, Any]]:
    """`count` rows (at most 6) of format `fmt` about the two clips in assets/ (videos relative to assets/)."""
    fmt = format_name(fmt)
    rows = []
    for i, (clip, category, question, options, answer) in enumerate(_EXAMPLES[:count]):
        options = options.split("|")
        lettered = [f"{LETTERS[k]}. {o}" for k, o in enumerate(options)]
        if fmt == "hlvid":
            rows.append(
                {
                    "question_id": f"ex-{i}",
                    "category": category,
                    "video_path": clip,
                    "question": "\n".join([question, *lettered]),
                    "answer": answer,
                }
            )
        elif fmt == "video-mme":
            rows.append(
                {
                    "videoID": Path(clip).stem,
                    "question_id": f"ex-{i}",
                    "duration": "short",
                    "domain": "Example",
                    "sub_category": category,
                    "task_type": category,
                    "question": question,
                    "options": lettered,
                    "answer": answer,
                }
            )
        else:
            rows.append(
                {
                    "video": clip,
                    "question": question,
                    "candidates": options,
                    "answer": options[LETTERS.index(answer)],
                    "task_type": category,
                }
            )
    return rows
