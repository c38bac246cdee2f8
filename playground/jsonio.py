"""JSON files: read with one-line errors, written atomically (a temporary file beside, then a rename)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

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


def write_json(data: Any, path: str | Path, indent: int | None = None) -> Path:
    """Write `data` as JSON atomically, so the file is either the old one or the whole new one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=indent, separators=None if indent else (",", ":"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
