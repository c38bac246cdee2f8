"""Checks on an MLLM's config before `from_pretrained` builds anything from it.

`transformers` builds the model from config.json first and compares it with the weights only
afterwards, so a config with a hidden size of 20000 or a million layers would allocate (or build
modules) until memory runs out. Here the raw config's sizes are checked for form, and the
parameters they imply (a lower bound, from the same sizes as the analytic FLOPs) are compared
with the elements the safetensors weights hold, read from their headers alone.
"""

from __future__ import annotations

from typing import Any

from ..checkpoints import header_shapes
from ..errors import PlaygroundError, check
from ..jsonio import read_json
from .flops import architecture_shape, llm_token_flops

SIZE_KEYS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "vocab_size",
    "patch_size",
    "image_size",
    "num_channels",
    "scale_factor",
    "depth",  # Qwen-VL's vision layers
    "linear_num_key_heads",  # Qwen3.5's Gated DeltaNet layers
    "linear_num_value_heads",
    "linear_key_head_dim",
    "linear_value_head_dim",
    "linear_conv_kernel_dim",
)
MAX_LAYERS = 1024  # far above any released model; a bad config must not build millions of modules, even on meta


def check_raw_sizes(raw: dict[str, Any] | None) -> None:
    """The size fields of config.json (top level, text_config, vision_config): whole numbers >= 1."""
    if not isinstance(raw, dict):
        return
    sections = (("", raw), ("text_config.", raw.get("text_config")), ("vision_config.", raw.get("vision_config")))
    for where, section in sections:
        if not isinstance(section, dict):
            continue
        for key in SIZE_KEYS:
            value = section.get(key)
            if value is None:
                continue
            check(
                isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                f"config.json {where}{key} must be a whole number of at least 1, got {value!r}",
            )
            check(
                key not in ("num_hidden_layers", "depth") or value <= MAX_LAYERS,
                f"config.json {where}{key} is {value}: more than the {MAX_LAYERS} layers any supported model has",
            )


def least_parameters(config) -> int:
    """A lower bound on the parameters of the config's model: every linear layer and embedding it must hold."""
    shape = architecture_shape(config)
    v, t = shape.vision, shape.text
    vision = v.layers * (4 * v.hidden * v.hidden + 2 * v.hidden * v.intermediate) + v.channels * v.patch**2 * v.hidden
    connector = sum(i * o for i, o in shape.connector)
    return vision + connector + llm_token_flops(t) // 2 + t.vocab * t.hidden  # lm_head may be tied to the embedding


def weight_files(name: str) -> list[str]:
    """The safetensors weight files of a folder or hub repo (single file or shards); [] when none is found."""
    from transformers.utils import cached_file  # lazy: transformers is slow to import

    def find(filename: str) -> str | None:
        return cached_file(
            name, filename, _raise_exceptions_for_missing_entries=False, _raise_exceptions_for_connection_errors=False
        )

    index = find("model.safetensors.index.json")
    if index is None:
        single = find("model.safetensors")
        return [] if single is None else [single]
    try:
        shards = sorted(set(read_json(index, f"{name}'s model.safetensors.index.json")["weight_map"].values()))
    except (KeyError, TypeError, AttributeError) as exc:
        raise PlaygroundError(f"cannot read {name}'s model.safetensors.index.json: {exc}") from exc
    files = [find(shard) for shard in shards]
    return [] if None in files else files


def check_weights_fit(name: str, config, shown: str | None = None) -> None:
    """Refuse a config whose model needs more parameters than the weights hold (headers only, nothing built).

    `name` is the folder (or hub id) to read; `shown` the model's name for the message (default `name`).
    """
    files = weight_files(name)
    if not files:
        return  # no safetensors to compare with; transformers reports what it finds
    held = 0
    for file in files:
        for shape in header_shapes(file).values():
            count = 1
            for n in shape:
                count *= n
            held += count
    needed = least_parameters(config)
    check(
        needed <= held,
        f"config.json of {shown or name} describes at least {needed / 1e6:,.1f} M parameters but its weights "
        f"hold {held / 1e6:,.1f} M: the config does not belong to these weights",
    )
