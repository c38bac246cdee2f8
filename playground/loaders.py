"""Learned families: how `load_gazer` and `load_reconstructor` tell whose checkpoint a name is.

A `Loader` is one learned family's registration (AutoGaze, VideoMAE_AutoGaze, ...): the names it
owns (published hub ids, ids it moved from, checkpoints shipped in the package), how it
recognises a checkpoint it has never seen (config.json `model_type` or `architectures`, other config
files, tensor names in a safetensors header, weights-file suffixes), where its load function lives
(imported only when used: VideoMAE's pulls in transformers) and where its tiny-checkpoint writer lives
(what the registry-parametrised tests load). `claim` asks the loaders of a registry in order and
answers with the first that recognises the name, or one line saying that none does.

Nothing here loads a model or runs a repository's code: recognising reads a config.json, file names
and safetensors headers (through `checkpoints.inside`), and a hub id's small config files only.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .checkpoints import Located, header_shapes, inside, locate
from .errors import PlaygroundError
from .jsonio import read_json

# Parameters a loader fills itself (the model, where it came from, its name): never user options.
FILLED_BY_LOADER = frozenset({"self", "name_or_path", "device", "net", "model", "preprocessor", "source", "name"})


@dataclass(frozen=True)
class Loader:
    """One learned family, as a registry knows it (see docs/architecture.md, "Adding a learned family").

    Args:
        family: its name in errors and test ids (`autogaze`).
        load: "module:function" called as `function(name_or_path, device=..., **options)`; its
            parameters, and when it takes **kwargs those of the class it returns, are the options.
        tiny: "module:function" called as `function(folder, seed=0)`: writes a tiny random checkpoint
            there (the registry tests load it by its folder).
        hub_ids: published hub ids, listed by `available_gazers()` / `available_reconstructors()`.
        moved_hub_ids: old hub id -> the id the model has now (the hub answers 404 for the old one):
            claimed, read as the new id with a note, not listed.
        shipped: names of checkpoints shipped in the package -> their folders (listed, offline).
        model_types, architectures: a folder whose config.json names one of these is this family's.
        config_files: other files that mark a folder as this family's (VideoMAE's config_and_results.json).
        key_prefixes: a `.safetensors` file (or one in a folder) whose tensor names start so is this family's.
        suffixes: weights files only this family reads (VideoMAE's `.pt`).
    """

    family: str
    load: str
    tiny: str
    hub_ids: tuple[str, ...] = ()
    moved_hub_ids: Mapping[str, str] = field(default_factory=dict)
    shipped: Mapping[str, Path] = field(default_factory=dict)
    model_types: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()
    config_files: tuple[str, ...] = ()
    key_prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()

    def function(self, which: str = "load") -> Callable[..., Any]:
        """The `load` or `tiny` function, imported now."""
        module, _, name = getattr(self, which).partition(":")
        return getattr(importlib.import_module(module), name)

    def options(self) -> set[str]:
        """The options `load_gazer` / `load_reconstructor` take for this family's checkpoints."""
        load = self.function("load")
        takes = parameters(load)
        if takes_more(load):  # the rest goes to the class it returns
            takes |= parameters(inspect.signature(load, eval_str=True).return_annotation.__init__)
        return takes - FILLED_BY_LOADER

    def owns(self, key: str) -> Claim | None:
        """The claim on `key` when it is one of this family's names (case aside), else None."""
        low = key.lower()
        if low in self.shipped:
            return Claim(self, str(self.shipped[low]), low)
        for name in self.hub_ids:
            if low == name.lower():
                return Claim(self, name, name)
        for old, new in self.moved_hub_ids.items():
            if low == old.lower():
                warnings.warn(f"{key} moved to {new} on the Hugging Face hub; loading {new}", stacklevel=4)
                return Claim(self, new, new)
        return None

    def knows_config(self, seen: "Seen") -> bool:
        """Whether the checkpoint's config (config.json's names, or a config file of its own) is this family's."""
        return (
            seen.model_type in self.model_types
            or bool(set(seen.architectures) & set(self.architectures))
            or any(name in self.config_files for name in seen.files)
        )

    def knows_weights(self, seen: "Seen") -> bool:
        """Whether the checkpoint's weights (tensor names, a file suffix) are this family's."""
        return any(name.endswith(self.suffixes) for name in seen.files if self.suffixes) or bool(
            self.key_prefixes and any(k.startswith(self.key_prefixes) for k in seen.keys)
        )


@dataclass(frozen=True)
class Claim:
    """What a registry answered for a name: the family's loader, what to pass it, and the name results show."""

    loader: Loader
    target: str  # passed to the load function
    name: str | None  # a shipped name or a published hub id names the model; None: the loader names it


@dataclass
class Seen:
    """What a checkpoint shows of its family without being loaded."""

    where: str  # the name as given, for errors
    model_type: Any = None
    architectures: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # names in its folder (a file named directly: its own)
    weights: tuple[Path, ...] = ()  # `.safetensors` files whose headers name the tensors

    @cached_property
    def keys(self) -> frozenset[str]:
        """Tensor names in the safetensors headers (read only when a loader asks: nothing is loaded)."""
        return frozenset(k for path in self.weights for k in header_shapes(path))

    def describe(self) -> str:
        if self.model_type is not None or self.architectures:
            return f"its config.json names model_type {self.model_type!r} and architectures {list(self.architectures)}"
        if not self.files:
            return "it holds no files"
        return f"it holds {', '.join(self.files[:4])}{' ...' if len(self.files) > 4 else ''} and no config.json a family names"


def look(found: Located) -> Seen:
    """Read what `found` shows: a folder's config.json and file names, a file's own name and header."""
    if found.kind == "file":
        path = found.path
        return Seen(str(path), files=(path.name,), weights=(path,) if path.suffix == ".safetensors" else ())
    folder = found.folder
    config: Any = {}
    if (folder / "config.json").is_file():
        config = read_json(inside(folder, folder / "config.json"), "config.json")
    architectures = config.get("architectures") or ()
    return Seen(
        str(found.path),
        model_type=config.get("model_type"),
        architectures=tuple(str(a) for a in architectures) if isinstance(architectures, list) else (),
        files=tuple(sorted(p.name for p in folder.iterdir())),
        weights=tuple(inside(folder, p) for p in sorted(folder.glob("*.safetensors")) if p.is_file()),
    )


def claim(
    loaders: Sequence[Loader],
    name_or_path: str,
    what: str,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
) -> Claim:
    """The first loader, in registry order, that owns or recognises `name_or_path`.

    Its names come first (shipped names, hub ids); then a local file or folder, or a hub id's
    small config files (fetched with the offline rules of `hub.py`), is shown to each loader: first
    for a config it knows, then for weights it knows.

    Raises:
        PlaygroundError: in one line, for a path that does not exist, a hub id that cannot be
            fetched, or a checkpoint no family recognises.
    """
    key = str(name_or_path).strip()
    for loader in loaders:
        owned = loader.owns(key)
        if owned is not None:
            return owned
    markers = ("config.json", *dict.fromkeys(f for loader in loaders for f in loader.config_files))
    examples = [h for loader in loaders for h in loader.hub_ids] or ["owner/name"]
    seen = look(locate(key, markers, revision, cache_dir, example=examples[0]))
    for knows in (Loader.knows_config, Loader.knows_weights):  # what a config says outranks what weights suggest
        for loader in loaders:
            if knows(loader, seen):
                return Claim(loader, key, None)
    raise PlaygroundError(
        f"no {what} family reads {key}: {seen.describe()} "
        f"(the {what} families: {', '.join(loader.family for loader in loaders)})"
    )


def named(model: Any, name: str | None) -> Any:
    """`model`, named as the user chose it: a shipped name or a published hub id (also its `source`, if it has one)."""
    if name is not None:
        model.name = name
        if hasattr(model, "source"):  # learned gazers say where their weights came from in every result
            model.source = name
    return model


def parameters(fn: Callable[..., Any]) -> set[str]:
    """The named parameters of `fn` (not *args / **kwargs)."""
    return {
        p.name for p in inspect.signature(fn).parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def takes_more(fn: Callable[..., Any]) -> bool:
    """Whether `fn` takes **kwargs (and passes them on, as a loader does to the model's class)."""
    return any(p.kind == p.VAR_KEYWORD for p in inspect.signature(fn).parameters.values())


__all__ = ["Loader", "Claim", "Seen", "claim", "look", "named", "parameters", "takes_more", "FILLED_BY_LOADER"]
