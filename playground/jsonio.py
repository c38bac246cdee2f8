"""JSON: the one reader (bounded depth and size, one-line errors) and atomic writes.

Every JSON the playground reads from a user (labels, configs, manifests, question files, records, gaze
files, checkpoint configs) goes through `parse` or `read_json`: text over `MAX_JSON_BYTES` or nested
deeper than `MAX_JSON_DEPTH` is refused in one line before the parser sees it (Python's parser would
raise RecursionError on deep nesting), and so is anything that is not JSON.
`atomic_write` is the rename for any file (the dataset's Parquet shards and errors.jsonl use it too).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import PlaygroundError, check

MAX_JSON_DEPTH = 64  # nesting of arrays and objects; our files need 5, and Python's parser recurses per level
MAX_JSON_BYTES = 1024**3  # one JSON text (a labels file of a large dataset stays far below)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')  # a JSON string literal, whose brackets do not nest


def parse(text: str | bytes, what: str = "JSON") -> Any:
    """`text` parsed as JSON, or a one-line PlaygroundError naming `what` (too big, too deep, not JSON)."""
    check(len(text) <= MAX_JSON_BYTES, f"{what} is {len(text):,} bytes, over the limit of {MAX_JSON_BYTES:,}")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PlaygroundError(f"{what} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    depth = 0 if text.count("[") + text.count("{") <= MAX_JSON_DEPTH else json_depth(text)  # few: cannot be too deep
    check(depth <= MAX_JSON_DEPTH, f"{what} is nested {depth:,} levels deep, over the limit of {MAX_JSON_DEPTH}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlaygroundError(f"{what} is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (RecursionError, ValueError) as exc:  # a safety net: the depth check should have refused it
        raise PlaygroundError(f"{what} is not JSON the playground can read: {exc}") from None


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON `text` (brackets inside strings not counted)."""
    import numpy as np  # lazy: most JSON is parsed without this scan

    codes = np.frombuffer(_STRING.sub('""', text).encode("utf-8"), dtype=np.uint8)
    step = np.isin(codes, (ord("["), ord("{"))).astype(np.int64) - np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(step).max(initial=0))


def read_jsonl(path: str | Path, check_row: Callable[[Any, str], None] | None = None) -> tuple[list[Any], bool]:
    """(the rows of a JSON-lines file, whether its last line was torn). A torn last line (no newline after it,
    not a whole row: what a crash mid-write leaves) is left out; a bad line elsewhere is a one-line
    PlaygroundError. `check_row(row, where)` may refuse a row that parses but is not what the file holds."""
    lines = Path(path).read_text(errors="replace").split("\n")
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = parse(line, f"{path} line {n}")
            if check_row is not None:
                check_row(row, f"{path} line {n}")
        except PlaygroundError:
            if n == len(lines):
                return rows, True
            raise
        rows.append(row)
    return rows, False


def read_json(path: str | Path, what: str = "", want_object: bool = True) -> Any:
    """The JSON in `path`; a one-line PlaygroundError when it is missing, unreadable, too big or deep, or
    not an object.

    Args:
        path: the file.
        what: what the file is, for the messages (e.g. "labels file").
        want_object: require a JSON object (a dict).
    """
    path = Path(path)
    name = f"{what} {path}" if what else str(path)
    check(path.is_file(), f"no {name}" if what else f"no such file: {path}")
    try:
        size = path.stat().st_size
        check(size <= MAX_JSON_BYTES, f"{name} is {size:,} bytes, over the limit of {MAX_JSON_BYTES:,}")
        text = path.read_bytes()
    except OSError as exc:
        raise PlaygroundError(f"cannot read {name}: {exc.strerror or exc}") from None
    data = parse(text, name)
    check(not want_object or isinstance(data, dict), f"{name} is not a JSON object")
    return data


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """A hidden temporary path beside `path` to write to; renamed onto `path` when the block succeeds.

    Readers see the old file or the whole new one, never a part; on any failure (Ctrl-C included)
    the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created by name rather than with mkstemp, so the file gets the usual permissions (the umask's),
    # not mkstemp's owner-only ones: datasets and labels are shared.
    tmp = path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(data: Any, path: str | Path, indent: int | None = None) -> Path:
    """Write `data` as JSON atomically, so the file is either the old one or the whole new one."""
    with atomic_write(path) as tmp, open(tmp, "w") as f:
        json.dump(data, f, indent=indent, separators=None if indent else (",", ":"))
    return Path(path)


def settings_differences(theirs: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """'key: THEIRS there, OURS here' for each key of `ours` whose value `theirs` (read from a file) differs in,
    compared as JSON gives them back (tuples as lists)."""
    ours = json.loads(json.dumps(ours))
    return [f"{k}: {theirs.get(k)!r} there, {ours[k]!r} here" for k in ours if theirs.get(k) != ours[k]]
