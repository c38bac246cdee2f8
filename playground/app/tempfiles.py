"""Scratch folders for the files one run writes (videos, exports), and their clean-up.

Gradio copies every returned file into its own cache (which `Blocks(delete_cache=...)` empties),
so a run folder is only needed until the response has been sent. Folders older than
`max_age_s` are removed whenever a new one is made, and the whole root at interpreter exit.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

_lock = threading.Lock()
_root: Path | None = None


def root() -> Path:
    """The app's scratch root (created on first use, removed at exit)."""
    global _root
    with _lock:
        if _root is None or not _root.exists():
            _root = Path(tempfile.mkdtemp(prefix="autogaze-app-"))
            atexit.register(shutil.rmtree, _root, True)
        return _root


def run_dir(max_age_s: float = 900.0) -> Path:
    """A fresh folder for one run's files; prunes folders older than `max_age_s` first."""
    base = root()
    prune(base, max_age_s)
    path = base / f"run-{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


def prune(base: Path, max_age_s: float) -> int:
    """Remove run folders under `base` last modified more than `max_age_s` ago; returns how many."""
    cutoff = time.time() - max_age_s
    removed = 0
    for child in base.glob("run-*"):
        try:
            if child.stat().st_mtime < cutoff:
                shutil.rmtree(child, ignore_errors=True)
                removed += 1
        except FileNotFoundError:  # another request pruned it first
            continue
    return removed
