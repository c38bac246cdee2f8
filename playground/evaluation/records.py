"""The files of an evaluation folder: per-question records (JSON lines), per-rank record files, run.json.

- `records.jsonl`: one JSON object a line, one line a question (`run.py` says what a record holds).
  A record is appended and flushed as soon as its question is answered, so an interrupted run
  keeps every finished question; a line cut short by a kill (no newline, not JSON) is dropped
  when the file is read, and removed before the next append.
- `records-rank<R>.jsonl`: what rank R of a data-parallel run wrote; rank 0 merges them into
  `records.jsonl` (whole, then renamed) once every rank is done.
- A question is *done* when its latest record (the last line about it, over all these files)
  has no error; a resumed run skips done questions and retries the others.
- `run.json`: the settings that give the records their meaning; a run into a folder made with
  other settings is refused in one line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..errors import PlaygroundError, check
from ..jsonio import atomic_write, read_json, read_jsonl, settings_differences, write_json

RECORDS = "records.jsonl"
RANK_RECORDS = "records-rank{rank}.jsonl"
RUN = "run.json"
FORMAT = "autogaze-playground eval 1"  # what run.json says its folder holds


def records_path(out: Path, rank: int = 0, size: int = 1) -> Path:
    """The file this process appends to: records.jsonl alone, else its rank's own file."""
    return out / (RECORDS if size <= 1 else RANK_RECORDS.format(rank=rank))


def record_files(out: Path) -> list[Path]:
    """records.jsonl and every rank's file in `out`, in reading order (later lines win)."""
    ranks = [p for p in out.glob(RANK_RECORDS.format(rank="*")) if p.stem.rsplit("rank", 1)[-1].isdigit()]
    ranks.sort(key=lambda p: int(p.stem.rsplit("rank", 1)[-1]))
    return [p for p in [out / RECORDS, *ranks] if p.is_file()]


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of one file; a last line cut short (no newline, not JSON) is left out."""
    try:
        return read_jsonl(path)[0]
    except PlaygroundError as exc:
        raise PlaygroundError(f"{exc}; move the file away to start over") from None


def latest_records(out: Path) -> dict[str, dict[str, Any]]:
    """question_id -> its latest record, over every record file in `out`."""
    latest: dict[str, dict[str, Any]] = {}
    for path in record_files(out):
        for record in read_records(path):
            latest[str(record["question_id"])] = record
    return latest


def done_ids(out: Path) -> set[str]:
    """The questions whose latest record has no error (a resumed run skips them)."""
    return {qid for qid, r in latest_records(out).items() if not r.get("error")}


class RecordWriter:
    """Appends records to one file, a line each, flushed to disk at once (see the module doc)."""

    def __init__(self, path: Path):
        self.path = path
        if _torn(path):  # drop the cut line, keep the rest, whole then renamed
            keep = read_records(path)
            with atomic_write(path) as tmp:
                tmp.write_text(lines(keep))
        self.file = open(path, "a")
        self.written = 0

    def write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())
        self.written += 1

    def close(self) -> None:
        self.file.close()


def _torn(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")


def merge_records(out: Path, order: Sequence[str]) -> list[dict[str, Any]]:
    """Fold every record file of `out` into records.jsonl (latest record per question, in `order`, then any
    others), written whole and renamed; the rank files are removed after. Returns the merged records."""
    latest = latest_records(out)
    known = set(order)
    ordered = [latest[q] for q in order if q in latest] + [r for q, r in latest.items() if q not in known]
    with atomic_write(out / RECORDS) as tmp:
        tmp.write_text(lines(ordered))
    for path in record_files(out):
        if path.name != RECORDS:
            path.unlink()
    return ordered


# ---- run.json --------------------------------------------------------------------------------


def check_run(out: Path, meaning: dict[str, Any]) -> None:
    """Refuse to add records to a folder whose run.json holds other settings (its records mean something else)."""
    path = out / RUN
    if not path.exists():
        return
    run = read_json(path, "evaluation run file")
    check(run.get("format") == FORMAT, f"{path} is not an eval run file; give another --out")
    differ = settings_differences(run.get("settings", {}), meaning)
    check(
        not differ,
        f"{out} holds an evaluation made with other settings ({'; '.join(differ)}); "
        "give another --out, or the same settings to resume it",
    )


def write_run(out: Path, meaning: dict[str, Any], extra: dict[str, Any]) -> Path:
    """run.json: the settings (what a resume must keep) and how this run was made."""
    return write_json({"format": FORMAT, "settings": meaning, **extra}, out / RUN, indent=1)


def lines(records: Iterable[dict[str, Any]]) -> str:
    """Records as JSON lines (what the record files hold)."""
    return "".join(json.dumps(r) + "\n" for r in records)
