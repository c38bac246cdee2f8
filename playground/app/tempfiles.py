"""Scratch folders for the files one run writes (videos, exports), and their clean-up.

Gradio copies every returned file into its own cache (which `Blocks(delete_cache=...)` empties),
so a run folder is only needed until the response has been sent. Folders older than
`max_age_s` are removed whenever a new one is made, and the whole root at interpreter exit.

Gradio's cache (uploads and the copies of returned files) goes to a folder of this process too
(`gradio_cache()`, set as $GRADIO_TEMP_DIR before any component exists), removed at exit as well.
Both are named `<prefix><pid>-<random>`, so the ones a killed app left are recognised and removed
by the next app once they are an hour old (`playground.staging`). `python app.py` calls
`remove_all()` as soon as SIGTERM or Ctrl-C arrives, then closes the server.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

from .. import staging

ROOT_PREFIX = "autogaze-app-"
GRADIO_PREFIX = "autogaze-gradio-"
_lock = threading.Lock()
_root: Path | None = None
_gradio: Path | None = None


def _own_dir(parent: str | Path, prefix: str) -> Path:
    """A new folder of this process in `parent`, removed at exit; stale ones of killed apps go first."""
    staging.remove_stale(parent, prefix)
    path = staging.make_dir(parent, prefix)
    atexit.register(shutil.rmtree, path, True)
    return path


def remove_all() -> None:
    """Remove this process's scratch root and Gradio cache now (when the server stops; exit does it
    too, but only after the server has closed and every worker thread has finished)."""
    for path in (_root, _gradio):
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)


def root() -> Path:
    """The app's scratch root (created on first use, removed at exit)."""
    global _root
    with _lock:
        if _root is None or not _root.exists():
            _root = _own_dir(tempfile.gettempdir(), ROOT_PREFIX)
        return _root


def gradio_cache() -> Path:
    """This process's own Gradio cache folder, set as $GRADIO_TEMP_DIR (removed at exit).

    Made inside $GRADIO_TEMP_DIR when that is set, else in the system's temporary folder. Call it
    before building any component: Gradio reads the variable as each block is made.
    """
    global _gradio
    with _lock:
        if _gradio is None or not _gradio.exists():
            base = _gradio.parent if _gradio is not None else os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()
            _gradio = _own_dir(base, GRADIO_PREFIX)
            os.environ["GRADIO_TEMP_DIR"] = str(_gradio)
        return _gradio


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
