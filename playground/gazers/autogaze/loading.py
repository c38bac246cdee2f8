"""Loading an AutoGaze checkpoint: find it (file, folder or hub id), check it, build the gazer.

`load_autogaze(name_or_path)` accepts a hub id (`nvidia/AutoGaze`, fetched with huggingface_hub, which
respects `HF_HUB_OFFLINE` and the local cache; `load_gazer` reads the model's old id `bfshi/AutoGaze`,
which the hub now answers with 404, as the new one: `LEARNED_GAZERS`), a local folder with
`config.json`, `model.safetensors` and `preprocessor_config.json`, or a `.safetensors` file with a
config beside it (or passed as `config=`). The config is first held against the weights' header
(`build_net`, nothing allocated), then the weights are checked key by key and cast to float32
(`load_weights`); both go through `playground.checkpoints`, as VideoMAE's loader does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import torch

from ...calibration import find_calibration
from ...checkpoints import build_on_meta, check_shapes, float32_state, header_shapes, inside, locate, read_safetensors
from ...errors import check
from ...jsonio import read_json
from ...models.autogaze import AutoGazeConfig, AutoGazeNet, llama3_inv_freq
from .gazer import AutoGazeGazer

CHECKPOINT_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")
IGNORED_KEY_SUFFIXES = ("rotary_emb.inv_freq",)  # non-persistent buffer; ignore if a file has it
ARCHITECTURE = "the AutoGaze architecture of its config"
HUB_ID = "nvidia/AutoGaze"  # the published checkpoint


def load_autogaze(
    name_or_path: str,
    device: str | torch.device | None = None,
    config: Any = None,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    calibration: Any = "auto",
    **kwargs,
) -> AutoGazeGazer:
    """Load an AutoGaze checkpoint as a gazer.

    Args:
        name_or_path: a hub id (`nvidia/AutoGaze`), a folder with `config.json` +
            `model.safetensors` (+ `preprocessor_config.json`), or a `.safetensors` file.
        device: where to run (default: $PLAYGROUND_DEVICE, else CUDA when available, else CPU).
        config: for a bare `.safetensors` file: the config as a dict or a path to `config.json`
            (default: the `config.json` beside the file).
        revision: hub revision (branch, tag or commit) for hub ids.
        cache_dir: hub cache folder (default: huggingface_hub's, $HF_HUB_CACHE).
        calibration: how a requested threshold reaches the task-loss head (`playground.calibration`):
            "auto" (default) uses `calibration.json` in the checkpoint folder when it names these
            weights' SHA-256 (otherwise none, and results say why); a path to a calibration file
            (it must name these weights); None: the threshold goes to the head as is (the reference).
        **kwargs: passed to `AutoGazeGazer` (`bf16`, `predict_loss`, `seed`, `clip_len`, `stop`).

    Returns:
        An `AutoGazeGazer`.

    Raises:
        PlaygroundError: missing files, an id that is neither cached nor reachable, a config that
            is not AutoGaze's, or weights whose keys or shapes do not match.
    """
    source = str(name_or_path)
    found = locate(source, CHECKPOINT_FILES, revision, cache_dir, example=HUB_ID)
    folder = found.folder
    if found.kind == "file":  # a weights file named directly may live anywhere
        check(found.path.suffix == ".safetensors", f"{found.path} is not a .safetensors file or a checkpoint folder")
        weights = found.path
    else:  # files found in a folder must lie inside it
        weights = folder / "model.safetensors"
        check(weights.is_file(), f"{folder} has no model.safetensors")
        weights = inside(folder, weights)
    cfg_dict = _read_config(config if config is not None else inside(folder, folder / "config.json"))
    pre_path = folder / "preprocessor_config.json"
    preprocessor = read_json(inside(folder, pre_path)) if pre_path.is_file() else None
    net = build_net(AutoGazeConfig.from_dict(cfg_dict), weights)
    load_weights(net, weights)
    cal, note = find_calibration(calibration, folder if found.kind != "file" else None, weights)
    gazer = AutoGazeGazer(net, preprocessor=preprocessor, device=device, source=source, calibration=cal, **kwargs)
    gazer.config_json = cfg_dict  # written back as is when a trained copy is saved
    gazer.weights_file, gazer.calibration_note = weights, note
    return gazer


def _read_config(config: Any) -> dict[str, Any]:
    if isinstance(config, dict):
        return config
    path = Path(config)
    check(path.is_file(), f"no config.json at {path}: pass config= with the checkpoint's config")
    return read_json(path)


def _indices(keys: Iterable[str], prefix: str) -> int:
    """How many entries `prefix.N.` of a module list the keys hold."""
    return len({k[len(prefix) :].split(".", 1)[0] for k in keys if k.startswith(prefix)})


def build_net(cfg: AutoGazeConfig, weights: str | Path) -> AutoGazeNet:
    """The model of `cfg` on the meta device, once its shapes match the tensors in `weights`' header.

    Nothing real is allocated before the check, so a config with absurd sizes fails at once in one
    line; `load_weights` then fills in the checkpoint's tensors.
    """
    name = Path(weights).name
    shapes = {k: v for k, v in header_shapes(weights).items() if not k.endswith(IGNORED_KEY_SUFFIXES)}
    # Layer counts first: a config asking for a million layers must not build a million modules.
    for count, prefix, what in (
        (cfg.num_layers, "gazing_model.gaze_decoder.model.layers.", "decoder layers"),
        (cfg.vision_depth, "gazing_model.vision_model.blocks.", "vision blocks"),
    ):
        held = _indices(shapes, prefix)
        check(count == held, f"config.json asks for {count} {what} but {name} holds {held}")
    net = build_on_meta(lambda: AutoGazeNet(cfg), f"config.json for {name}")
    check_shapes(str(weights), shapes, {k: tuple(v.shape) for k, v in net.state_dict().items()}, ARCHITECTURE)
    return net


def load_weights(net: AutoGazeNet, weights: str | Path) -> None:
    """Load a safetensors state dict into `net` (real or meta, from `build_net`) strictly, as float32."""
    state = {k: v for k, v in read_safetensors(weights).items() if not k.endswith(IGNORED_KEY_SUFFIXES)}
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    net.load_state_dict(float32_state(str(weights), state, expected, ARCHITECTURE), strict=True, assign=True)
    net.inv_freq = llama3_inv_freq(net.cfg)  # the one non-persistent buffer, on the meta device until now
