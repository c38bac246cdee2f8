"""Gazed video MLLMs: answers, tokens, FLOPs and latency, gazed vs full, on the same frames.

`load_mllm(name_or_path)` loads a `transformers` video MLLM with its real `from_pretrained`
(a hub id, a short alias below, or a local folder made with `save_pretrained`) and returns a
`GazedMLLM` whose `.answer(video, question, gaze=None | GazeResult)` runs the stock path on every
patch or the gazed path on the gazed multi-scale patches only. Supported:

- SmolVLM2 (`SmolVLMForConditionalGeneration`), e.g. HuggingFaceTB/SmolVLM2-256M-Video-Instruct;
- LLaVA-OneVision (`LlavaOnevisionForConditionalGeneration`), e.g. llava-hf/llava-onevision-qwen2-0.5b-ov-hf;
- Qwen3-VL (`Qwen3VLForConditionalGeneration`), e.g. Qwen/Qwen3-VL-2B-Instruct;
- Qwen3.5 (`Qwen3_5ForConditionalGeneration`), e.g. Qwen/Qwen3.5-0.8B;
- NVILA-8B-HD-Video through its own remote code, only with `trust_remote_code=True`.
"""

from __future__ import annotations

import os

import torch

from ..checkpoints import check_folder, locate
from ..device import resolve_device
from ..errors import PlaygroundError, check
from ..hub import hub_offline
from ..knobs import DEFAULT_MLLM
from .answer import Answer, attention_warning, comparison_table
from .checks import check_raw_sizes, check_weights_fit
from .families import FAMILIES, family_for, read_chat_template, read_model_json
from .flops import architecture_shape, estimate_flops
from .gazed_vit import ATTENTION_MODES
from .model import GazedMLLM
from .nvila import NVILA_HUB_ID, is_nvila, load_nvila
from .random_models import (
    RANDOM_WEIGHTS_NOTE,
    TINY_RANDOM_QWEN3_5,
    TINY_RANDOM_QWEN3_VL,
    TINY_RANDOM_SMOLVLM2,
    load_tiny_random_qwen3_5,
    load_tiny_random_qwen3_vl,
    load_tiny_random_smolvlm2,
)

ALIASES = {
    "smolvlm2-256m": "HuggingFaceTB/SmolVLM2-256M-Video-Instruct",
    "smolvlm2-500m": "HuggingFaceTB/SmolVLM2-500M-Video-Instruct",
    "smolvlm2-2.2b": "HuggingFaceTB/SmolVLM2-2.2B-Instruct",
    "llava-onevision-0.5b": "llava-hf/llava-onevision-qwen2-0.5b-ov-hf",
    "llava-onevision-7b": "llava-hf/llava-onevision-qwen2-7b-ov-hf",
    "qwen3-vl-2b": "Qwen/Qwen3-VL-2B-Instruct",
    "qwen3-vl-4b": "Qwen/Qwen3-VL-4B-Instruct",
    "qwen3.5-0.8b": "Qwen/Qwen3.5-0.8B",
    "qwen3.5-2b": "Qwen/Qwen3.5-2B",
    "qwen3.5-4b": "Qwen/Qwen3.5-4B",
    "nvila": NVILA_HUB_ID,
}
# The built-in tiny random models: name -> (device, dtype) -> GazedMLLM, built in code (no files, no network).
TINY_RANDOM_MLLMS = {
    TINY_RANDOM_SMOLVLM2: load_tiny_random_smolvlm2,
    TINY_RANDOM_QWEN3_VL: load_tiny_random_qwen3_vl,
    TINY_RANDOM_QWEN3_5: load_tiny_random_qwen3_5,
}
# What `load_mllm` fetches of a hub repo: configs, tokenizer files and chat templates, safetensors weights.
HUB_FILES = ("*.json", "*.safetensors", "*.jinja", "*.txt", "*.model", "*.tiktoken")


def load_mllm(
    name_or_path: str = DEFAULT_MLLM,
    device: str | torch.device | None = None,
    *,
    trust_remote_code: bool = False,
    attn_implementation: str = "sdpa",
    dtype: torch.dtype | None = None,
    **kwargs,
):
    """Load a video MLLM for stock and gazed answers.

    Args:
        name_or_path: a hub id, an alias (smolvlm2-256m, smolvlm2-500m, smolvlm2-2.2b,
            llava-onevision-0.5b, llava-onevision-7b, qwen3-vl-2b, qwen3-vl-4b, qwen3.5-0.8b, qwen3.5-2b,
            qwen3.5-4b, nvila), a local folder, or `tiny-random-smolvlm2` / `tiny-random-qwen3-vl` /
            `tiny-random-qwen3.5`: a tiny model with random weights built in
            code (offline; its answers are noise, its tokens, FLOPs and stages are real).
        device: where to run; default from $PLAYGROUND_DEVICE, else CUDA when available, else CPU.
        trust_remote_code: allow a model repository's own Python code (an `auto_map` in its config);
            needed for NVILA. False (the default) refuses such models without running or asking anything.
        attn_implementation: 'sdpa' (default) or 'eager' for the vision encoder and the LLM.
        dtype: weights dtype; default bfloat16 on CUDA, float32 elsewhere.
        **kwargs: passed to NVILA's processor (its gazing knobs); refused for other models.

    Returns:
        A `GazedMLLM` (or, for NVILA, an `NvilaMLLM` with the same `answer` signature).
    """
    check(
        isinstance(name_or_path, (str, os.PathLike)) and str(name_or_path).strip() != "",
        "name_or_path must be a hub id, an alias or a folder",
    )
    name = ALIASES.get(str(name_or_path).strip().lower(), str(name_or_path).strip())
    device = resolve_device(device)
    check(
        attn_implementation in ("sdpa", "eager"),
        f"attn_implementation must be 'sdpa' or 'eager', got {attn_implementation!r}",
    )
    if is_nvila(name):
        return load_nvila(name, device, trust_remote_code, **kwargs)
    check(not kwargs, f"unexpected arguments for {name}: {sorted(kwargs)}")
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    if name.lower() in TINY_RANDOM_MLLMS:
        return TINY_RANDOM_MLLMS[name.lower()](device, dtype)
    source = _folder(name)  # everything below reads this local folder: no hub requests, no retries
    # lazy: transformers is slow to import
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoTokenizer

    remote = dict(trust_remote_code=bool(trust_remote_code))  # never None: that makes transformers prompt on stdin
    check_raw_sizes(read_model_json(source, "config.json"))
    try:
        config = AutoConfig.from_pretrained(source, **remote)
    except (OSError, ValueError, ArithmeticError, TypeError) as exc:
        raise PlaygroundError(_load_error(name, exc)) from exc
    family_cls = family_for(config.model_type)
    check_weights_fit(source, config, shown=name)
    try:
        model = AutoModelForImageTextToText.from_pretrained(
            source, dtype=dtype, attn_implementation=attn_implementation, **remote
        )
        tokenizer = AutoTokenizer.from_pretrained(source, **remote)
    except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: weights that do not fit the config
        raise PlaygroundError(_load_error(name, exc)) from exc
    model = model.to(device).eval()
    processing = family_cls.read_processing(source, config)
    chat_template = read_chat_template(source) or getattr(tokenizer, "chat_template", None)
    return GazedMLLM(family_cls(model, tokenizer, processing, chat_template), name)


def weights_cached(name: str = DEFAULT_MLLM) -> bool:
    """Whether an alias or hub id's config and weights are in the local Hugging Face cache (read from disk:
    no network, whatever HF_HUB_OFFLINE says), so that `load_mllm(name)` works offline."""
    from huggingface_hub import try_to_load_from_cache  # lazy, like the rest of the hub

    hub_id = ALIASES.get(str(name).strip().lower(), str(name).strip())
    cache_dir = os.environ.get("HF_HUB_CACHE") or None

    def cached(filename: str) -> bool:
        found = try_to_load_from_cache(hub_id, filename, cache_dir=cache_dir)
        return isinstance(found, str) and os.path.isfile(found)

    try:  # the weights: one file, or an index of shards
        return cached("config.json") and (cached("model.safetensors") or cached("model.safetensors.index.json"))
    except (ValueError, OSError):  # not a hub id (a folder, a bad name)
        return False


def default_mllm() -> str:
    """The MLLM to offer first: `DEFAULT_MLLM` when its weights are cached, else the built-in
    `tiny-random-smolvlm2` (random weights, but it runs offline with no files)."""
    return DEFAULT_MLLM if weights_cached(DEFAULT_MLLM) else TINY_RANDOM_SMOLVLM2


def _folder(name: str) -> str:
    """The local folder to load `name` from, found by `checkpoints.locate` like every checkpoint.

    An existing folder must link to nothing outside itself; a file is refused (an MLLM is a folder).
    Anything else must be an 'owner/name' hub id, fetched like the gazer's and the reconstructor's
    checkpoints (with HF_HUB_OFFLINE only the cache is read; an unreachable hub fails at once).
    Only the files an MLLM loads are fetched: configs, tokenizer files, chat templates and the
    safetensors weights (no pickled .bin weights, no Python code).
    """
    try:
        found = locate(name, HUB_FILES, example=ALIASES[DEFAULT_MLLM])
    except PlaygroundError as exc:
        raise PlaygroundError(f"cannot load MLLM {name!r}: {exc}") from exc
    check(found.kind != "file", f"cannot load MLLM {name!r}: {found.path} is a file; give the model's folder")
    if found.kind == "folder":
        check_folder(found.path)
    return str(found.path)


def _load_error(name: str, exc: Exception) -> str:
    """One line that says why loading failed and what to do."""
    first = (str(exc).strip().splitlines() or [repr(exc)])[0]
    if "trust_remote_code" in str(exc) or "contains custom code" in str(exc):
        return (
            f"cannot load MLLM {name!r}: it runs its own Python code from the model repository (auto_map); "
            f"load it with trust_remote_code=True (CLI: --trust-remote-code) only if you trust that code"
        )
    if "ignore_mismatched_sizes" in first or "size mismatch" in str(exc):
        return f"cannot load MLLM {name!r}: the shapes of its weights do not match its config.json"
    hint = ""
    network = any(w in first.lower() for w in ("connect", "name or service", "resolve", "timed out", "network"))
    if network and not hub_offline():
        hint = " (no network? set HF_HUB_OFFLINE=1 to use only the local Hugging Face cache, or pass a local folder)"
    return f"cannot load MLLM {name!r}: {first}{hint}"


__all__ = [
    "load_mllm",
    "GazedMLLM",
    "Answer",
    "comparison_table",
    "attention_warning",
    "ATTENTION_MODES",
    "estimate_flops",
    "architecture_shape",
    "ALIASES",
    "DEFAULT_MLLM",
    "default_mllm",
    "weights_cached",
    "FAMILIES",
    "TINY_RANDOM_SMOLVLM2",
    "TINY_RANDOM_QWEN3_VL",
    "TINY_RANDOM_QWEN3_5",
    "TINY_RANDOM_MLLMS",
    "RANDOM_WEIGHTS_NOTE",
]
