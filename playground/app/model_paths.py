"""Which model names the app's free-text boxes may load: built-in names, hub ids, and allowed folders.

The gazer, reconstructor and MLLM boxes take any text, and the server would otherwise load (and,
through its error messages, reveal) any path on its disk. A local path is loaded only when it
resolves (links followed) under the Hugging Face hub cache, the project's assets/ folder or a
folder listed in $PLAYGROUND_MODEL_DIRS (separated by os.pathsep); every other path gets one and
the same message, whether it exists or not. The CLI and the Python API are not restricted.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from huggingface_hub import constants

from ..errors import PlaygroundError

MODEL_DIRS_ENV = "PLAYGROUND_MODEL_DIRS"
ASSETS = Path(__file__).resolve().parents[2] / "assets"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
_FILE_SUFFIXES = (".pt", ".pth", ".safetensors", ".json", ".yaml", ".bin")


def allowed_roots() -> list[Path]:
    """The folders local models may come from in the app (resolved): hub cache, assets/, $PLAYGROUND_MODEL_DIRS."""
    roots = [Path(constants.HF_HUB_CACHE), ASSETS]
    roots += [Path(p) for p in os.environ.get(MODEL_DIRS_ENV, "").split(os.pathsep) if p.strip()]
    return [root.expanduser().resolve() for root in roots]


def is_hub_id(name: str) -> bool:
    """'owner/name' that the hub could hold, and not a relative path that exists here."""
    return (
        _HUB_ID.fullmatch(name) is not None
        and ".." not in name
        and not name.lower().endswith(_FILE_SUFFIXES)
        and not os.path.lexists(name)
    )


def check_model_name(kind: str, name: str, builtins) -> None:
    """Refuse a local path outside `allowed_roots()` with one message that does not depend on the path."""
    if name.lower() in {b.lower() for b in builtins} or is_hub_id(name):
        return
    try:
        real = Path(name).expanduser().resolve()
    except (OSError, ValueError, RuntimeError):  # a NUL byte, a link loop: not a path the app loads
        real = None
    if real is not None and any(real.is_relative_to(root) for root in allowed_roots()):
        return
    raise PlaygroundError(
        f"cannot load {kind} {name!r}: not a built-in name or a hub id, and this app loads local "
        f"checkpoints only from the Hugging Face cache, its assets/ folder or a folder listed in "
        f"{MODEL_DIRS_ENV}"
    )
