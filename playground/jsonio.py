"""JSON files: read with one-line errors, written atomically (a temporary file beside, then a rename).

`atomic_write` is that rename for any file (the dataset's Parquet shards and errors.jsonl use it too).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any, Iterator

from .errors import PlaygroundError, check


def read_json(path: str | Path, what: str = "", want_object: bool = True) -> Any:
    """The JSON in `path`; a one-line PlaygroundError when it is missing, unreadable or not an object.

    Args:
        path: the file.
        what: what the file is, for the messages (e.g. "labels file").
        want_object: require a JSON object (a dict).
    """
    path = Path(path)
    name = f"{what} {path}" if what else str(path)
    check(path.is_file(), f"no {name}" if what else f"no such file: {path}")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlaygroundError(f"cannot read {name}: {exc}") from None
    check(not want_object or isinstance(data, dict), f"{name} is not a JSON object")
    return data


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """A hidden temporary path beside `path` to write to; renamed onto `path` when the block succeeds.

    Readers see the old file or the whole new one, never a part; on any failure (Ctrl-C included)
    the temporary file is removed.
    """
    path = Path(path)
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
