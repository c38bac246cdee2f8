"""Scratch folders that must not outlive their process: made with a recognisable name, removed at exit,
and removed at the next run when a kill, a crash or the OOM killer left them behind.

A folder is named `<prefix><pid>-<random>`. It counts as stale when its name has a known prefix,
it was last modified more than `max_age_s` ago and the process that made it is gone, so a run
that is still working (here, or in another process) never loses its files.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

STAGING_PREFIX = ".gaze-staging-"  # the CLI's hidden folder beside --out, moved into place at the end
STALE_AFTER_S = 3600.0


def make_dir(parent: str | Path, prefix: str) -> Path:
    """A new empty folder `<prefix><pid>-<random>` in `parent`."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))


def is_stale(path: Path, prefix: str, max_age_s: float = STALE_AFTER_S, now: float | None = None) -> bool:
    """Whether `path` is a folder this module named with `prefix`, older than `max_age_s`, whose maker is gone."""
    match = re.fullmatch(re.escape(prefix) + r"(\d+)-[A-Za-z0-9_]+", path.name)
    if match is None:
        return False
    try:
        if not path.is_dir() or path.is_symlink():
            return False
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except OSError:
        return False
    return age > max_age_s and not _alive(int(match.group(1)))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or one we cannot ask about: leave its folder alone
    return True


def remove_stale(parent: str | Path, prefix: str, max_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove the stale `prefix` folders directly in `parent` (see `is_stale`); returns those removed."""
    removed = []
    try:
        children = list(Path(parent).iterdir())
    except OSError:
        return removed
    now = time.time()
    for child in children:
        if is_stale(child, prefix, max_age_s, now):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


@contextlib.contextmanager
def interrupt_on_signals(first: Callable[[], None] | None = None) -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt as Ctrl-C does, so `finally` clean-ups run;
    `first()`, when given, runs as soon as either signal arrives (before a shutdown that may be slow).

    Only in the main thread, and only for a signal that has its default handler (not another library's).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    defaults = {signal.SIGTERM: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}
    taken = {sig: default for sig, default in defaults.items() if signal.getsignal(sig) is default}

    def interrupt(signum, frame):
        if first is not None:
            first()
        raise KeyboardInterrupt

    for sig in taken:
        signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig, default in taken.items():
            signal.signal(sig, default)


@contextlib.contextmanager
def staging_folder(
    parent: str | Path, prefix: str = STAGING_PREFIX, max_age_s: float = STALE_AFTER_S
) -> Iterator[Path]:
    """A hidden folder in `parent` to write outputs into before moving them in place; removed afterwards.

    First removes the stale staging folders that killed runs left in `parent`; a SIGTERM while the
    block runs removes this one too (a SIGKILL or the OOM killer leaves it to the next run).
    """
    remove_stale(parent, prefix, max_age_s)
    with interrupt_on_signals():
        path = make_dir(parent, prefix)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
