"""Reading checkpoint folders safely: files must lie inside the folder, tensor shapes come from headers.

Every loader that reads a folder (AutoGaze, VideoMAE, MLLM folders, and the hub snapshots they
fetch) opens its files through `inside`, so a `config.json -> /etc/passwd` link is refused in one
line instead of read. A Hugging Face cache snapshot is the one exception that the layout needs:
its files are links into the same repository's `blobs` folder, which counts as inside. A file the
user names directly (a `.safetensors` path, a `config=` path) is theirs to choose and not checked.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import PlaygroundError

HUB_REPO_PREFIXES = ("models--", "datasets--", "spaces--")


def _roots(folder: Path) -> list[Path]:
    """The folder, resolved, plus its repository's blobs when it is a hub cache snapshot."""
    real = folder.resolve()
    roots = [real]
    for parent in real.parents:  # a snapshot's subfolders link into the same blobs
        if parent.name == "snapshots" and parent.parent.name.startswith(HUB_REPO_PREFIXES):
            roots.append(parent.parent / "blobs")
            break
    return roots


def inside(folder: str | os.PathLike, path: str | os.PathLike) -> Path:
    """`path`, once its links are seen to resolve inside `folder`; else a one-line PlaygroundError naming it.

    The path comes back as given (not resolved), so that file names (and suffixes) stay the ones
    the folder shows, also for hub snapshots whose blobs have none.
    """
    folder, path = Path(folder), Path(path)
    real = path.resolve()
    if not any(real.is_relative_to(root) for root in _roots(folder)):
        raise PlaygroundError(f"{path} links to a file outside the checkpoint folder {folder}; refusing to read it "
                              f"(copy the file into the folder instead)")
    return path


def check_folder(folder: str | os.PathLike) -> None:
    """Refuse a folder that holds any link (to a file or a folder) resolving outside it.

    For loaders that hand the folder to code that opens files itself (`transformers`).
    """
    for dirpath, dirnames, filenames in os.walk(folder):  # linked folders are checked here, not entered
        for name in dirnames + filenames:
            inside(folder, Path(dirpath) / name)


def header_shapes(path: str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes of a safetensors file, read from its header alone (no tensor is loaded)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise PlaygroundError(f"cannot read {path}: {exc}") from exc
