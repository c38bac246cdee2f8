"""Caches shared by every session: loaded models, decoded frames and finished gazes.

Models load once per process (a Space keeps one process alive), decoded frames are kept so that
moving a slider only re-gazes and re-renders, and gazes are kept so that moving a slider back is
instant. All caches are small LRUs guarded by a lock; a value is built once even when several
requests ask for it at the same moment.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Hashable

from .. import knobs, load_gazer, load_mllm, load_reconstructor
from ..errors import PlaygroundError
from ..gazers import MEASURING_GAZERS, applicable_options, available_gazers
from ..hub import hub_offline
from ..mllm import ALIASES, TINY_RANDOM_MLLMS
from ..reconstructors import TRAINING_FREE_RECONSTRUCTORS
from ..run_card import sha256_of  # noqa: F401  (the clips' hashes: cache.sha256_of)
from .limits import _env_number
from .memory import nbytes
from .model_paths import check_model_name

MB = 2**20

OFFLINE_HINT = (
    "download it once with network access (it is then cached), or give a local folder path; "
    "set HF_HUB_OFFLINE=1 to use only the local cache"
)


class LRU:
    """A thread-safe least-recently-used map whose values are built on first use.

    It holds at most `capacity` values and, when `max_bytes` is given, at most that many bytes of
    arrays (`memory.nbytes`): the oldest values go first, and a value larger than the whole budget
    is returned but not kept.
    """

    def __init__(self, capacity: int, max_bytes: int | None = None):
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The value for `key`, calling `build()` once if it is missing."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._building.setdefault(key, threading.Lock())
        with key_lock:  # one builder per key; others wait for it instead of building again
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
            try:
                value = build()
                size = nbytes(value) if self.max_bytes is not None else 0
            except BaseException:
                with self._lock:
                    self._building.pop(key, None)
                raise
            with self._lock:
                self._building.pop(key, None)
                if self.max_bytes is None or size <= self.max_bytes:
                    self._items[key], self._sizes[key] = value, size
                    self._bytes += size
                    while len(self._items) > self.capacity or (
                        self.max_bytes is not None and self._bytes > self.max_bytes
                    ):
                        old, _ = self._items.popitem(last=False)
                        self._bytes -= self._sizes.pop(old)
            return value

    @property
    def nbytes(self) -> int:
        """Bytes of arrays held (counted only for a cache with a byte budget)."""
        with self._lock:
            return self._bytes

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._sizes.clear()
            self._bytes = 0


MODELS = LRU(capacity=int(os.environ.get("PLAYGROUND_APP_MODEL_CACHE", "6")))
# The data caches hold at most $PLAYGROUND_APP_CACHE_MB (default 512) of arrays in all: decoded clips,
# reconstructions (with the gazes they came from), the scrubber's frames of recent runs, which the
# sessions point to instead of holding them (a session keeps only a small `render.RunView`), and what a
# gazer prepares of a clip for all its gazes (`Gazer.prepare`: greedy's scale views, ~3.8 MB a frame, so
# a 16-frame clip's 61 MB fit and a curve's eight gazes share them), and apart from it (so that neither
# pushes the other out) what a reconstructor prepares of a clip for all its rebuilds (`Reconstructor.prepare`:
# paint's frames on the canvas, 0.6 MB a frame, so a 16-frame clip's 9.6 MB fit).
CACHE_MB = _env_number("PLAYGROUND_APP_CACHE_MB", 512.0)
FRAMES = LRU(capacity=8, max_bytes=int(0.3 * CACHE_MB * MB))
GAZES = LRU(capacity=32, max_bytes=int(0.05 * CACHE_MB * MB))
REBUILDS = LRU(capacity=32, max_bytes=int(0.28 * CACHE_MB * MB))
VIEWS = LRU(capacity=32, max_bytes=int(0.2 * CACHE_MB * MB))
PREPARED = LRU(capacity=2, max_bytes=int(0.15 * CACHE_MB * MB))
REBUILD_PREPARED = LRU(capacity=2, max_bytes=int(0.02 * CACHE_MB * MB))
CURVES = LRU(capacity=16)
DIGESTS = LRU(capacity=32)
# Sessions whose state Gradio keeps (`launch(state_session_capacity=...)`; its default of 10000 lets each
# visit's ~0.2 MB of page config pile up): the least recently used beyond $PLAYGROUND_APP_SESSIONS go.
SESSIONS = int(_env_number("PLAYGROUND_APP_SESSIONS", 500))


def _friendly_load(kind: str, name: str, load: Callable[[], Any]) -> Any:
    """Run a loader; a failed load becomes one line naming the model and saying what to set."""
    try:
        return load()
    except PlaygroundError as exc:
        message = str(exc)
        if not message.startswith("cannot load"):
            message = f"cannot load {kind} {name!r}: {message}"
        looks_remote = "/" in name and not Path(name).expanduser().exists()
        if looks_remote and "HF_HUB_OFFLINE" not in message and "local folder" not in message:
            message = f"{message} ({offline_hint()})"
        raise PlaygroundError(message) from exc
    except (OSError, RuntimeError) as exc:  # unexpected loader failures still reach the user as one line
        raise PlaygroundError(f"cannot load {kind} {name!r}: {exc} ({offline_hint()})") from exc


def offline_hint() -> str:
    """What to do about a model the cache lacks; HF_HUB_OFFLINE=1 is suggested only when it is not set already."""
    return OFFLINE_HINT.split("; set HF_HUB_OFFLINE")[0] if hub_offline() else OFFLINE_HINT


def model_key(name: str) -> str:
    """Cache key of a model name or path: local paths by their resolved path and mtime."""
    name = str(name).strip()
    path = Path(name).expanduser()
    if path.exists():
        return f"{path.resolve()}@{path.stat().st_mtime_ns}"
    return name


def get_gazer(name: str, device: str | None = None, stop: str = knobs.STOP):
    """A loaded gazer (`greedy`, `framediff`, `random`, `full`, an AutoGaze hub id or path), cached; a learned
    one with its `stop` (`knobs.STOPS`)."""
    name = str(name or "").strip()
    if not name:
        raise PlaygroundError(f"choose a gazer: {', '.join(available_gazers())}, or an AutoGaze checkpoint")
    check_model_name("gazer", name, [*available_gazers(built_in=True), *MEASURING_GAZERS])
    # AutoGaze restarts its caches every 16 frames here: it was trained on 16-frame clips, and the app
    # takes longer runs (this also keeps memory and attention history bounded).
    # Which options a checkpoint takes is asked of its family (a hub id's config may be fetched): a
    # failure there is the gazer's load failing, and says so like one.
    options = _friendly_load("gazer", name, lambda: applicable_options(name, clip_len=knobs.CLIP_LEN, stop=stop))
    return MODELS.get(
        ("gazer", model_key(name), device, options.get("stop")),
        lambda: _friendly_load("gazer", name, lambda: load_gazer(name, device=device, **options)),
    )


def get_reconstructor(name: str, device: str | None = None):
    """A loaded reconstructor (`paint`, a VideoMAE_AutoGaze hub id or path), cached."""
    name = str(name or "").strip() or "paint"
    check_model_name("reconstructor", name, TRAINING_FREE_RECONSTRUCTORS)
    return MODELS.get(
        ("reconstructor", model_key(name), device),
        lambda: _friendly_load("reconstructor", name, lambda: load_reconstructor(name, device=device)),
    )


def get_mllm(name: str, device: str | None = None):
    """A loaded video MLLM (hub id or folder), cached."""
    name = str(name or "").strip()
    if not name:
        raise PlaygroundError("give an MLLM: a hub id such as HuggingFaceTB/SmolVLM2-256M-Video-Instruct or a folder")
    check_model_name("MLLM", name, [*ALIASES, *TINY_RANDOM_MLLMS])
    return MODELS.get(
        ("mllm", model_key(name), device), lambda: _friendly_load("MLLM", name, lambda: load_mllm(name, device=device))
    )


def file_key(path: str | Path) -> tuple[str, int, int]:
    """Identity of a file for caching: resolved path, size, mtime."""
    p = Path(path).resolve()
    st = p.stat()
    return str(p), st.st_size, st.st_mtime_ns
