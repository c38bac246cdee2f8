"""Gazer registry: `load_gazer(name_or_path)` returns a ready `Gazer`.

Names of the built-in, training-free gazers load instantly and offline. Anything else is taken as
an AutoGaze checkpoint: a hub id (`nvidia/AutoGaze`), a local folder or a safetensors file.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import PlaygroundError
from .base import FrameByFrameGazer, Gazer, frame_budgets
from .simple import FullGazer, RandomGazer
from .greedy import GreedyGazer
from .framediff import FrameDiffGazer
from .oracle import OracleGazer

TRAINING_FREE_GAZERS: dict[str, type[Gazer]] = {
    "greedy": GreedyGazer,
    "framediff": FrameDiffGazer,
    "random": RandomGazer,
    "full": FullGazer,
}
AUTOGAZE_HUB_IDS = ("nvidia/AutoGaze",)  # the old id bfshi/AutoGaze still loads (autogaze.loading.MOVED_HUB_IDS)
# AutoGaze checkpoints trained in this project and shipped inside the package (they load offline).
SHIPPED_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
SHIPPED_GAZERS: dict[str, Path] = {"autogaze-playground": SHIPPED_WEIGHTS / "autogaze-playground"}
# Gazers that measure a reconstructor's loss while they pick (`reconstructor=`; slow, not listed above).
MEASURING_GAZERS: dict[str, type[Gazer]] = {"oracle": OracleGazer}


def available_gazers(built_in: bool = False) -> list[str]:
    """Names `load_gazer` understands without a path (AutoGaze hub ids need weights in the cache).

    This is the one list of names: the app's dropdowns and Compare tab, the errors and the tests read it.
    The training-free gazers come first, then the learned ones: those shipped with the playground (the
    default learned gazer, offline), then the published hub ids. `built_in=True` keeps the ones that load
    offline with nothing to download (the training-free gazers and the shipped checkpoints).
    """
    return list(TRAINING_FREE_GAZERS) + list(SHIPPED_GAZERS) + ([] if built_in else list(AUTOGAZE_HUB_IDS))


def gazer_options(name_or_path: str) -> set[str]:
    """The options `load_gazer(name_or_path, **options)` accepts (read from the loaders' signatures)."""
    key = str(name_or_path).strip().lower()
    cls = TRAINING_FREE_GAZERS.get(key) or MEASURING_GAZERS.get(key)
    if cls is not None:
        return _parameters(cls.__init__) - {"self", "device"}
    from .autogaze import AutoGazeGazer, load_autogaze

    return (_parameters(load_autogaze) | _parameters(AutoGazeGazer.__init__)) - {
        "self", "name_or_path", "device", "net", "preprocessor", "source", "kwargs"}


def applicable_options(name_or_path: str, **options) -> dict:
    """The subset of `options` that this gazer takes (e.g. `clip_len` only for AutoGaze checkpoints)."""
    takes = gazer_options(name_or_path)
    return {k: v for k, v in options.items() if k in takes}


def _takes_more(fn) -> bool:
    """Whether `fn` takes **kwargs (and passes them on, as the oracle does to its reconstructor's loader)."""
    import inspect

    return any(p.kind == p.VAR_KEYWORD for p in inspect.signature(fn).parameters.values())


def _parameters(fn) -> set[str]:
    import inspect

    return {p.name for p in inspect.signature(fn).parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def load_gazer(name_or_path: str, device: str | torch.device | None = None, **kwargs) -> Gazer:
    """Load a gazer by name (`greedy`, `framediff`, `random`, `full`) or AutoGaze checkpoint.

    Args:
        name_or_path: a training-free gazer's name, a hub id, a local folder or a safetensors file.
        device: where to run; default from $PLAYGROUND_DEVICE, else CUDA when available, else CPU.
        **kwargs: passed to the gazer (e.g. `seed` for `random`, `grid` for other scales).

    Returns:
        A `Gazer` whose `.gaze(video, gazing_ratio=..., task_loss_requirement=...)` returns a `GazeResult`.
    """
    key = str(name_or_path).strip()
    cls = TRAINING_FREE_GAZERS.get(key.lower()) or MEASURING_GAZERS.get(key.lower())
    unknown = sorted(set(kwargs) - gazer_options(key))
    if unknown and not (cls is not None and _takes_more(cls.__init__)):  # e.g. the oracle passes the rest on
        raise PlaygroundError(f"gazer {key!r} takes no option {', '.join(unknown)} "
                              f"(it takes: {', '.join(sorted(gazer_options(key))) or 'none'})")
    if key.lower() in TRAINING_FREE_GAZERS:
        return TRAINING_FREE_GAZERS[key.lower()](device=device, **kwargs)
    if key.lower() in MEASURING_GAZERS:
        return MEASURING_GAZERS[key.lower()](device=device, **kwargs)
    from .autogaze import load_autogaze

    if key.lower() in SHIPPED_GAZERS:
        gazer = load_autogaze(str(SHIPPED_GAZERS[key.lower()]), device=device, **kwargs)
        gazer.source = gazer.name = key.lower()  # results, summaries and cards name it as the user chose it
        return gazer
    gazer = load_autogaze(key, device=device, **kwargs)
    if gazer.source in AUTOGAZE_HUB_IDS:  # a published id (a moved one read as its new id): named by it
        gazer.name = gazer.source
    return gazer


__all__ = ["Gazer", "FrameByFrameGazer", "load_gazer", "available_gazers", "gazer_options", "applicable_options",
           "frame_budgets",
           "TRAINING_FREE_GAZERS", "AUTOGAZE_HUB_IDS", "SHIPPED_GAZERS"]
