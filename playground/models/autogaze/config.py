"""AutoGaze's configuration: `AutoGazeConfig` (the architecture knobs parsed from a checkpoint's
`config.json`) and `DefaultKnob` (how a checkpoint picks the gazing ratio or task-loss requirement
when a call gives neither)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import PlaygroundError, check


@dataclass(frozen=True)
class AutoGazeConfig:
    """The architecture knobs of an AutoGaze checkpoint (a flat view of its `config.json`)."""

    scales: tuple[int, ...] = (32, 64, 112, 224)  # gaze scales in pixels, ascending
    num_slots: int = 265  # S: gaze vocabulary per frame (EOS/PAD is id S)
    input_img_size: int = 224  # frames are squashed to this side before the encoder
    kernel_size: int = 16  # encoder patch size (P = (input_img_size / kernel_size)^2 tokens)
    vision_hidden: int = 192
    vision_out: int = 192
    vision_depth: int = 1  # number of causal conv blocks
    trunk_temporal_kernel: int = 3
    trunk_spatial_kernel: int = 3
    hidden_size: int = 192  # D
    intermediate_size: int = 384
    num_layers: int = 4
    num_heads: int = 6
    num_kv_heads: int = 6
    head_dim: int = 32
    rms_norm_eps: float = 1e-5
    rope_theta: float = 500000.0
    rope_scaling: tuple[tuple[str, Any], ...] | None = (
        ("rope_type", "llama3"),
        ("factor", 8.0),
        ("low_freq_factor", 1.0),
        ("high_freq_factor", 4.0),
        ("original_max_position_embeddings", 8192),
    )
    num_multi_token_pred: int = 10  # K
    # How the checkpoint picks the knobs when a call gives neither (its inference strategies).
    default_gazing_ratio: "DefaultKnob" = field(default_factory=lambda: DefaultKnob("fixed", 0.75))
    default_task_loss_requirement: "DefaultKnob" = field(default_factory=lambda: DefaultKnob("fixed", 0.7))
    per_frame_strategy: str = "uniform"  # gazing_ratio_each_frame_config: 'uniform' = same ratio every frame

    @property
    def eos_id(self) -> int:
        """The EOS/PAD id (= S)."""
        return self.num_slots

    @property
    def vocab_size(self) -> int:
        return self.num_slots + 1

    @property
    def tokens_per_frame(self) -> int:
        """P: vision tokens per frame fed to the decoder."""
        return (self.input_img_size // self.kernel_size) ** 2

    @property
    def slots_per_scale(self) -> list[int]:
        """Slots of each scale, as the reference computes them: int(s^2 / sum(s^2) * S)."""
        total = sum(s * s for s in self.scales)
        return [int(s * s / total * self.num_slots) for s in self.scales]

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]) -> "AutoGazeConfig":
        """Parse a serialized `AutoGazeConfig` (`config.json` of the checkpoint).

        Raises PlaygroundError for configs this implementation cannot run.
        """
        check(isinstance(cfg, dict), "an AutoGaze config must be a JSON object")
        model_type = cfg.get("model_type")
        check(model_type in (None, "autogaze"), f"config.json has model_type {model_type!r}, expected 'autogaze'")
        gm = cfg.get("gaze_model_config")
        check(isinstance(gm, dict), "config.json has no 'gaze_model_config' section: not an AutoGaze checkpoint")
        vm, dc = gm.get("vision_model_config") or {}, gm.get("gaze_decoder_config") or {}
        scales = cfg.get("scales", "32+64+112+224")
        try:
            scales = tuple(sorted(int(s) for s in str(scales).replace(",", "+").split("+") if s.strip()))
        except ValueError as exc:
            raise PlaygroundError(f"config.json scales {cfg.get('scales')!r} is not like '32+64+112+224'") from exc
        num_slots = _whole(gm, "num_vision_tokens_each_frame", cfg.get("num_vision_tokens_each_frame", 265))
        hidden = _whole(dc, "hidden_size", 192)
        heads = _whole(dc, "num_attention_heads", 6)
        rope_scaling = dc.get("rope_scaling")
        out = cls(
            scales=scales,
            num_slots=num_slots,
            input_img_size=_whole(gm, "input_img_size", 224),
            kernel_size=_whole(vm, "kernel_size", 16),
            vision_hidden=_whole(vm, "hidden_dim", 192),
            vision_out=_whole(vm, "out_dim", 192),
            vision_depth=_whole(vm, "depth", 1, least=0),
            trunk_temporal_kernel=_whole(vm, "trunk_temporal_kernel_size", 3),
            trunk_spatial_kernel=_whole(vm, "trunk_spatial_kernel_size", 3),
            hidden_size=hidden,
            intermediate_size=_whole(dc, "intermediate_size", 384),
            num_layers=_whole(dc, "num_hidden_layers", 4),
            num_heads=heads,
            num_kv_heads=_whole(dc, "num_key_value_heads", heads) if dc.get("num_key_value_heads") else heads,
            head_dim=_whole(dc, "head_dim", 0) if dc.get("head_dim") else hidden // heads,
            rms_norm_eps=float(dc.get("rms_norm_eps", 1e-5)),
            rope_theta=float(dc.get("rope_theta", 10000.0)),
            rope_scaling=None if not rope_scaling else tuple(sorted(rope_scaling.items())),
            num_multi_token_pred=_whole(dc, "num_multi_token_pred", 10),
            default_gazing_ratio=DefaultKnob.parse(cfg.get("gazing_ratio_config"), "gazing_ratio"),
            default_task_loss_requirement=(
                DefaultKnob.parse(cfg.get("task_loss_requirement_config"), "task_loss_requirement")
                if cfg.get("has_task_loss_requirement_during_inference", False)
                else DefaultKnob("none")
            ),
            per_frame_strategy=str(
                (cfg.get("gazing_ratio_each_frame_config") or {}).get("sample_strategy_during_inference") or "uniform"
            ),
        )
        out._validate(vm, dc)
        return out

    def _validate(self, vm: dict, dc: dict) -> None:
        check(int(vm.get("temporal_patch_size", 1)) == 1, "only temporal_patch_size 1 is supported")
        check(dc.get("hidden_act", "silu") == "silu", f"unsupported decoder activation {dc.get('hidden_act')!r}")
        check(
            int(dc.get("vocab_size", self.vocab_size)) == self.vocab_size,
            f"decoder vocab_size {dc.get('vocab_size')} != num_vision_tokens_each_frame + 1 = {self.vocab_size}",
        )
        check(self.num_heads % self.num_kv_heads == 0, "num_attention_heads must be a multiple of num_key_value_heads")
        check(
            self.head_dim >= 1, f"hidden_size {self.hidden_size} is smaller than num_attention_heads {self.num_heads}"
        )
        check(self.head_dim % 2 == 0, "head_dim must be even for rotary embeddings")
        check(
            sum(self.slots_per_scale) == self.num_slots,
            f"scales {self.scales} do not split {self.num_slots} slots evenly",
        )
        check(self.input_img_size % self.kernel_size == 0, "input_img_size must be a multiple of kernel_size")
        check(self.trunk_temporal_kernel >= 2, "trunk_temporal_kernel_size must be at least 2")
        if self.rope_scaling is not None:
            rope_type = dict(self.rope_scaling).get("rope_type", dict(self.rope_scaling).get("type"))
            check(rope_type in ("llama3", "default"), f"unsupported rope_scaling type {rope_type!r}")


def _whole(section: dict, key: str, default: Any, least: int = 1) -> int:
    """`section[key]` (or `default`) as a whole number of at least `least`, else a one-line PlaygroundError.

    Only the form is checked here; whether a size fits the weights is checked against the
    checkpoint's header before anything is built (`gazers.autogaze.build_net`).
    """
    value = section.get(key, default)
    try:
        check(not isinstance(value, bool) and not (isinstance(value, float) and not value.is_integer()), "")
        number = int(value)
    except (TypeError, ValueError):
        raise PlaygroundError(f"config.json {key} must be a whole number, got {value!r}") from None
    check(number >= least, f"config.json {key} must be at least {least}, got {value!r}")
    return number


@dataclass(frozen=True)
class DefaultKnob:
    """How a checkpoint sets a knob (gazing ratio or task-loss requirement) when a call gives none.

    Parsed from a `{sample_strategy_during_inference, fixed: {key}, uniform: {key_min, key_max}}`
    block of `config.json`. 'fixed' uses one value (the released checkpoints); 'uniform' draws a
    value in [low, high] per call; 'none' leaves the knob unset; any other strategy (e.g. the
    reference's 'exponential') is kept by name and refused when it would be used.
    """

    strategy: str  # 'fixed' | 'uniform' | 'none' | another name (unsupported)
    value: float | None = None  # the 'fixed' value
    low: float | None = None  # the 'uniform' range
    high: float | None = None

    @classmethod
    def parse(cls, section: Any, key: str) -> "DefaultKnob":
        if not isinstance(section, dict):
            return cls("none")
        strategy = str(section.get("sample_strategy_during_inference") or "fixed")
        block = section.get(strategy) if isinstance(section.get(strategy), dict) else {}
        try:
            if strategy == "fixed":
                return cls("fixed", float(block[key])) if block.get(key) is not None else cls("none")
            if strategy == "uniform":
                low, high = float(block[f"{key}_min"]), float(block[f"{key}_max"])
                check(low <= high, f"config.json {key} uniform range [{low}, {high}] is empty")
                return cls("uniform", low=low, high=high)
        except (KeyError, TypeError, ValueError) as exc:
            raise PlaygroundError(f"config.json has a malformed {strategy!r} block for {key}: {block!r}") from exc
        return cls(strategy)

    def draw(self, rng: np.random.Generator, what: str) -> float | None:
        """The knob's value for one call (None for 'none')."""
        if self.strategy == "none":
            return None
        if self.strategy == "fixed":
            return self.value
        if self.strategy == "uniform":
            return float(rng.uniform(self.low, self.high))
        raise PlaygroundError(
            f"this checkpoint samples its default {what} with the {self.strategy!r} strategy, which the "
            f"playground does not reproduce: pass gazing_ratio or task_loss_requirement explicitly"
        )
