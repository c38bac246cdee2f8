"""Finding and checking checkpoints: one place for every loader (AutoGaze, VideoMAE, MLLM folders).

`locate` turns a name into a local file, a local folder or a hub snapshot (with the offline rules
of `hub.py`); `check_shapes` / `float32_state` hold a state dict strictly against a model (names,
shapes, float dtypes), with one error style; `build_on_meta` builds a model without allocating.

Every loader that reads a folder (AutoGaze, VideoMAE, MLLM folders, and the hub snapshots they
fetch) opens its files through `inside`, so a `config.json -> /etc/passwd` link is refused in one
line instead of read. A Hugging Face cache snapshot is the one exception that the layout needs:
its files are links into the same repository's `blobs` folder, which counts as inside. A file the
user names directly (a `.safetensors` path, a `config=` path) is theirs to choose and not checked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from .errors import PlaygroundError, check
from .hub import hub_snapshot, looks_like_hub_id

if TYPE_CHECKING:
    import torch

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
        raise PlaygroundError(
            f"{path} links to a file outside the checkpoint folder {folder}; refusing to read it "
            f"(copy the file into the folder instead)"
        )
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


# ---- finding a checkpoint: a file, a folder or a hub id -------------------------------------


@dataclass(frozen=True)
class Located:
    """Where a checkpoint name led: the path it names and the folder whose files go with it."""

    path: Path  # the file or folder named, or the hub snapshot folder
    folder: Path  # the folder holding the checkpoint's other files (configs)
    kind: str  # "file" (named directly: it may live anywhere, `inside` does not apply), "folder" or "hub"


def locate(
    name_or_path: str | os.PathLike,
    hub_files: Sequence[str],
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    example: str = "owner/name",
) -> Located:
    """A local file, a local folder, or else a hub id fetched with `hub.hub_snapshot` (its offline rules).

    Args:
        name_or_path: what the user passed.
        hub_files: the files to fetch for a hub id (those the repo has).
        example: a hub id shown in the error for a name that is none of the three.
    """
    name = str(name_or_path)
    path = Path(name).expanduser()
    if path.is_file():
        return Located(path, path.parent, "file")
    if path.is_dir():
        return Located(path, path, "folder")
    check(
        looks_like_hub_id(name),
        f"no such checkpoint (no such file or folder, and not a hub id like {example!r}): {name}",
    )
    folder = hub_snapshot(name, hub_files, revision, cache_dir)
    return Located(folder, folder, "hub")


# ---- the strict check of a state dict against a model --------------------------------------


def _few(keys: Sequence[str], most: int = 4) -> str:
    shown = ", ".join(keys[:most])
    return shown + (f", ... ({len(keys) - most} more)" if len(keys) > most else "")


def check_shapes(
    source: str,
    shapes: Mapping[str, tuple[int, ...]],
    expected: Mapping[str, tuple[int, ...]],
    arch: str,
    hint: str = "",
) -> None:
    """Refuse, in one line, a checkpoint whose tensor names or shapes differ from the model's.

    Args:
        source: the checkpoint as the error names it.
        shapes, expected: tensor name -> shape, of the checkpoint and of the model.
        arch: what the model is ("the AutoGaze architecture of its config").
        hint: appended to every error (e.g. "; pass config= ...").
    """
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    if missing or unexpected:
        parts = [
            f"{len(keys)} {what} keys ({_few(keys)})"
            for keys, what in ((missing, "missing"), (unexpected, "unexpected"))
            if keys
        ]
        raise PlaygroundError(f"{source} does not fit {arch}: {' and '.join(parts)}{hint}")
    for key, shape in expected.items():
        check(
            tuple(shapes[key]) == tuple(shape),
            f"{source}: tensor {key} has shape {tuple(shapes[key])} but {arch} needs {tuple(shape)}{hint}",
        )


def float32_state(
    source: str, state: Mapping[str, "torch.Tensor"], expected: Mapping[str, tuple[int, ...]], arch: str, hint: str = ""
) -> dict[str, "torch.Tensor"]:
    """`state` once its names and shapes match `expected` and every tensor is a float, cast to float32."""
    import torch

    check_shapes(source, {k: tuple(v.shape) for k, v in state.items()}, expected, arch, hint)
    for key, value in state.items():
        check(value.is_floating_point(), f"{source}: tensor {key} is {value.dtype}, not a float tensor")
    return {key: state[key].to(torch.float32) for key in expected}


def read_safetensors(path: str | os.PathLike) -> dict[str, "torch.Tensor"]:
    """All tensors of a safetensors file; a one-line PlaygroundError when it cannot be read."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise PlaygroundError(f"cannot read {path} as safetensors: {exc}") from exc


def build_on_meta(build: Callable[[], "torch.nn.Module"], what: str) -> "torch.nn.Module":
    """`build()` on the meta device (nothing allocated), or a one-line error when its sizes cannot exist."""
    import torch

    try:
        with torch.device("meta"):
            return build()
    except (RuntimeError, OverflowError) as exc:  # sizes past what any tensor can hold, even on meta
        raise PlaygroundError(f"{what}: its sizes do not fit in a tensor ({str(exc).strip().splitlines()[0]})") from exc
