"""Gazer registry: `load_gazer(name_or_path)` returns a ready `Gazer`.

Names of the built-in, training-free gazers load instantly and offline. Anything else belongs to a
learned family of `LEARNED_GAZERS` (AutoGaze): a name it ships or publishes (`autogaze-playground`,
`nvidia/AutoGaze`), or a checkpoint it recognises (a local folder, a safetensors file, a hub id), asked
in order through `playground.loaders`; a name no family claims is one line.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import PlaygroundError
from ..loaders import Loader, claim, named, parameters, takes_more
from .base import FrameByFrameGazer, Gazer, frame_budgets
from .framediff import FrameDiffGazer
from .greedy import GreedyGazer
from .oracle import OracleGazer
from .simple import FullGazer, RandomGazer

TRAINING_FREE_GAZERS: dict[str, type[Gazer]] = {
    "greedy": GreedyGazer,
    "framediff": FrameDiffGazer,
    "random": RandomGazer,
    "full": FullGazer,
}
# Checkpoints trained in this project and shipped inside the package (they load offline).
SHIPPED_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
# Learned families, asked in this order for any other name (docs/architecture.md, "Adding a learned family").
LEARNED_GAZERS: tuple[Loader, ...] = (
    Loader(
        "autogaze",
        "playground.gazers.autogaze:load_autogaze",
        "playground.gazers.autogaze.tiny:save_tiny",
        hub_ids=("nvidia/AutoGaze",),
        moved_hub_ids={"bfshi/AutoGaze": "nvidia/AutoGaze"},
        shipped={"autogaze-playground": SHIPPED_WEIGHTS / "autogaze-playground"},
        model_types=("autogaze",),
        architectures=("AutoGaze",),
        key_prefixes=("gazing_model.",),
    ),
)
SHIPPED_GAZERS: dict[str, Path] = {name: path for loader in LEARNED_GAZERS for name, path in loader.shipped.items()}
# Gazers that measure a reconstructor's loss while they pick (`reconstructor=`; slow, not listed above).
MEASURING_GAZERS: dict[str, type[Gazer]] = {"oracle": OracleGazer}


def available_gazers(built_in: bool = False) -> list[str]:
    """Names `load_gazer` understands without a path (AutoGaze hub ids need weights in the cache).

    This is the one list of names: the app's dropdowns and Compare tab, the errors and the tests read it.
    The training-free gazers come first, then the learned ones: those shipped with the playground (the
    default learned gazer, offline), then the published hub ids. `built_in=True` keeps the ones that load
    offline with nothing to download (the training-free gazers and the shipped checkpoints).
    """
    published = [hub_id for loader in LEARNED_GAZERS for hub_id in loader.hub_ids]
    return list(TRAINING_FREE_GAZERS) + list(SHIPPED_GAZERS) + ([] if built_in else published)


def gazer_options(name_or_path: str) -> set[str]:
    """The options `load_gazer(name_or_path, **options)` accepts (read from the loaders' signatures).

    For a checkpoint this asks the registry whose it is (a hub id's config files may be fetched).
    """
    key = str(name_or_path).strip().lower()
    cls = TRAINING_FREE_GAZERS.get(key) or MEASURING_GAZERS.get(key)
    if cls is not None:
        return parameters(cls.__init__) - {"self", "device"}
    return claim(LEARNED_GAZERS, str(name_or_path), "gazer").loader.options()


def applicable_options(name_or_path: str, **options) -> dict:
    """The subset of `options` that this gazer takes (e.g. `clip_len` only for AutoGaze checkpoints)."""
    takes = gazer_options(name_or_path)
    return {k: v for k, v in options.items() if k in takes}


def load_gazer(name_or_path: str, device: str | torch.device | None = None, **kwargs) -> Gazer:
    """Load a gazer by name (`greedy`, `framediff`, `random`, `full`, `autogaze-playground`) or checkpoint.

    Args:
        name_or_path: a training-free gazer's name, a learned family's shipped name or hub id, or a
            checkpoint one of `LEARNED_GAZERS` recognises (a local folder, a safetensors file, a hub id).
        device: where to run; default from $PLAYGROUND_DEVICE, else CUDA when available, else CPU.
        **kwargs: passed to the gazer (e.g. `seed` for `random`, `grid` for other scales).

    Returns:
        A `Gazer` whose `.gaze(video, gazing_ratio=..., task_loss_requirement=...)` returns a `GazeResult`.
    """
    key = str(name_or_path).strip()
    cls = TRAINING_FREE_GAZERS.get(key.lower()) or MEASURING_GAZERS.get(key.lower())
    if cls is not None:
        _check_options(key, set(kwargs), gazer_options(key), takes_more(cls.__init__))
        return cls(device=device, **kwargs)
    found = claim(LEARNED_GAZERS, key, "gazer", kwargs.get("revision"), kwargs.get("cache_dir"))
    _check_options(key, set(kwargs), found.loader.options())
    # Results, summaries and cards name a shipped gazer or a published id as the user chose it.
    return named(found.loader.function()(found.target, device=device, **kwargs), found.name)


def _check_options(key: str, given: set[str], takes: set[str], passes_on: bool = False) -> None:
    unknown = sorted(given - takes)
    if unknown and not passes_on:  # e.g. the oracle passes the rest on to its reconstructor's loader
        raise PlaygroundError(
            f"gazer {key!r} takes no option {', '.join(unknown)} (it takes: {', '.join(sorted(takes)) or 'none'})"
        )


__all__ = [
    "Gazer",
    "FrameByFrameGazer",
    "load_gazer",
    "available_gazers",
    "gazer_options",
    "applicable_options",
    "frame_budgets",
    "TRAINING_FREE_GAZERS",
    "LEARNED_GAZERS",
    "SHIPPED_GAZERS",
    "MEASURING_GAZERS",
]
