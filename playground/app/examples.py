"""The example clips (`assets/`) and their instant results.

`EXAMPLES` names the clips the page offers: Big Buck Bunny, the reference's moving square and the gallery
made in code (`playground.synthetic.GALLERY`: a static camera, a fast pan, a flat cartoon, a dense texture),
each with a caption and its credit (`licences.clip_licence`).

`cached(gaze)` wraps the page's gaze callback: a run of an example clip (recognised by its bytes, whatever
Gradio named its copy) is kept, with its files copied out of the pruned run folder, and the same example at
the same settings is then answered at once. The key holds the code's version (`code_key`: the git commit and
a hash of the package's source), so a new version of the code never shows an old result; the cache is
bounded (`EXAMPLE_RUNS` entries, the oldest removed with its files) and lives in the app's scratch folder.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import shutil
import threading
from collections import OrderedDict
from pathlib import Path

from ..licences import clip_licence
from ..run_card import code_version, sha256_of
from ..synthetic import GALLERY
from . import tempfiles
from .cache import DIGESTS, file_key
from .callbacks import ASSETS

EXAMPLES = {
    "bigbuckbunny_clip.mp4": "Big Buck Bunny: a cartoon with camera motion",
    "synthetic_square.mp4": "the reference's moving square",
    **{name: caption for name, (caption, _) in GALLERY.items()},
}
EXAMPLE_RUNS = 24  # results kept (one an example and settings)
CACHED_NOTE = "*An instant result from the example cache (the same clip, settings and code ran before).*"


def example_paths() -> list[str]:
    """The example clips shipped in assets/ that exist in this checkout, in `EXAMPLES` order."""
    return [str(ASSETS / name) for name in EXAMPLES if (ASSETS / name).is_file()]


def credits_markdown() -> str:
    """One credit line an example clip: what it shows and its licence."""
    lines = [
        f"- `{name}`: {caption}; {clip_licence(name).line()}"
        for name, caption in EXAMPLES.items()
        if (ASSETS / name).is_file()
    ]
    return "<small>\n\nExamples:\n" + "\n".join(lines) + "\n\n</small>"


@functools.lru_cache(maxsize=1)
def code_key() -> str:
    """16 hex digits naming this code: its version and git commit (`run_card.code_version`) and the bytes of
    the package's Python source (so an uncommitted edit counts too)."""
    package = Path(__file__).resolve().parents[1]
    source = sorted(package.rglob("*.py"))
    meta = json.dumps(code_version(), sort_keys=True).encode()
    return hashlib.sha256(meta + sha256_of(source).encode()).hexdigest()[:16]


def example_name(video) -> str | None:
    """The example `video` is (its bytes equal an asset's of the same name), or None for any other file."""
    if not video:
        return None
    path = Path(str(video))
    asset = ASSETS / path.name
    if path.name not in EXAMPLES or not asset.is_file() or not path.is_file():
        return None
    digest = lambda p: DIGESTS.get(("example", *file_key(p)), lambda: sha256_of([p]))  # noqa: E731
    return path.name if digest(path) == digest(asset) else None


class ExampleRuns:
    """Finished example runs by (code, example, settings): the page's outputs by name, their files copied into
    the scratch folder; at most `capacity`, the least recently used removed with its files."""

    def __init__(self, capacity: int = EXAMPLE_RUNS):
        self.capacity = capacity
        self._runs: OrderedDict[tuple, dict] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> dict | None:
        with self._lock:
            if key not in self._runs:
                return None
            self._runs.move_to_end(key)
            return dict(self._runs[key])

    def put(self, key: tuple, out: dict) -> None:
        kept = keep_files(out, tempfiles.root() / "examples" / code_key() / uuid_of(key))
        with self._lock:
            self._runs[key] = kept
            while len(self._runs) > self.capacity:
                _, old = self._runs.popitem(last=False)
                shutil.rmtree(Path(old["overlay"]).parent, ignore_errors=True)

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()


RUNS = ExampleRuns()


def uuid_of(key: tuple) -> str:
    return hashlib.sha256(repr(key).encode()).hexdigest()[:16]


def keep_files(out: dict, dest: Path) -> dict:
    """`out` with its run folder copied to `dest` (the run folder is pruned after minutes) and every path,
    the view's included, pointing into the copy."""
    folder = Path(out["overlay"]).parent
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(folder, dest)
    moved = lambda p: str(dest / Path(p).relative_to(folder))  # noqa: E731
    kept = {
        **out,
        "overlay": moved(out["overlay"]),
        "rebuilt": moved(out["rebuilt"]),
        "files": [moved(p) for p in out["files"]],
    }
    view = out.get("view")
    if view is not None:
        kept["view"] = dataclasses.replace(
            view,
            folder=dest,
            overlay_video=Path(kept["overlay"]),
            compare_video=Path(kept["rebuilt"]),
            files=[Path(p) for p in kept["files"]],
        )
    return kept


def cached(gaze):
    """The page's gaze callback `gaze` (as `callbacks.gaze_page_action`), answering an example clip at settings
    it already ran from `RUNS`, and keeping each new successful example run there."""

    @functools.wraps(gaze)
    def run(*args, **kwargs):
        # Gradio calls this with `gaze`'s signature (functools.wraps), so it passes `gaze`'s progress
        # positionally after the page's inputs: take the arguments as they come and hand them on.
        video, knobs = (
            args[0],
            args[1:9],
        )  # the clip, then num_frames, fps, start, gazer, reconstructor, threshold, ratio, tile
        name = example_name(video)
        key = (code_key(), name, *map(str, knobs))
        hit = RUNS.get(key) if name else None
        if hit is not None:
            return {**hit, "summary": f"{CACHED_NOTE}\n\n{hit['summary']}", "shown": video}
        out = gaze(*args, **kwargs)
        if name and "files" in out and out.get("overlay"):  # a success (a failure returns the summary alone)
            RUNS.put(key, {k: v for k, v in out.items() if k != "shown"})
        return out

    return run
