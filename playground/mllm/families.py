"""Model families: what differs between SmolVLM2 and LLaVA-OneVision on the stock and gazed paths.

A family wraps a loaded `transformers` model and its tokenizer and answers, in the model's own
terms: how frames become pixels, how one scale is embedded, which encoder layers run, how encoder
features become LLM tokens (stock connector, and the gazed one), and how the video prompt is laid
out around the vision-token runs. Its class also answers from the config alone (no weights): the
sizes its FLOPs depend on, how many LLM tokens a stock or gazed clip becomes, a typical prompt
length (`flops.estimate_flops` asks these).

Adding a family: one `Family` subclass here, its entry in `FAMILIES`, a tiny random model in
`random_models.py` and a `FamilyTesterMixin` subclass in tests/test_families.py (docs/mllm.md).

Frames are resized and normalised here in torch with the values of the model's preprocessor
config (square side, mean, std, rescale factor): the `transformers` video processors need
torchvision, which this project does not install. Prompts use the model's tokenizer and chat
template, and for SmolVLM the prompt pieces of `transformers`' SmolVLM processor module itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from num2words import num2words

from .. import jsonio
from ..errors import PlaygroundError, check
from ..geometry import MultiScaleGrid
from .connector import pixel_shuffle_groups, sparse_pixel_shuffle
from .flops import ArchitectureShape, text_shape, vision_shape
from .gazed_vit import GazedTokens

# AutoGaze's native scales at patch 16 are (32, 64, 112, 224) = (2, 4, 7, 14) patches per side;
# a model's gaze grid keeps those ratios: k * (2, 4, 7, 14) patches of the model's patch size.
BASE_SIDES = (2, 4, 7, 14)


@dataclass(frozen=True)
class FrameProcessing:
    """How the model's processor turns a video frame into pixels (read from its preprocessor config)."""

    size: int  # square side in px that stock frames are resized to
    mean: tuple[float, float, float]  # per-channel mean after rescaling
    std: tuple[float, float, float]  # per-channel std after rescaling
    rescale: float  # uint8 -> [0, 1] factor
    fps: float  # frame rate the model's video sampling assumes (timestamps when none is given)


def read_json(name_or_path: str, filename: str) -> dict[str, Any] | None:
    """A JSON file of a hub repo or local folder (None when absent); respects HF_HUB_OFFLINE."""
    from transformers.utils import cached_file  # lazy: transformers is slow to import

    path = cached_file(name_or_path, filename, _raise_exceptions_for_missing_entries=False,
                       _raise_exceptions_for_connection_errors=False)
    if path is None:
        return None
    return jsonio.read_json(path, f"{name_or_path}: {filename}", want_object=False)


def read_text(name_or_path: str, filename: str) -> str | None:
    """A text file of a hub repo or local folder (None when absent)."""
    from transformers.utils import cached_file  # lazy: transformers is slow to import

    path = cached_file(name_or_path, filename, _raise_exceptions_for_missing_entries=False,
                       _raise_exceptions_for_connection_errors=False)
    return None if path is None else open(path).read()


def read_chat_template(name_or_path: str) -> str | None:
    """The processor's chat template: chat_template.jinja, chat_template.json or processor_config.json."""
    text = read_text(name_or_path, "chat_template.jinja")
    if text:
        return text
    for filename in ("chat_template.json", "processor_config.json"):
        data = read_json(name_or_path, filename) or {}
        if isinstance(data.get("chat_template"), str):
            return data["chat_template"]
    return None


def frames_to_float(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float32 (T, 3, H, W) in 0..255 on `device`."""
    return torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).float()


def squash(x: torch.Tensor, size: int) -> torch.Tensor:
    """float (T, 3, H, W) in 0..255 -> (T, 3, size, size): bicubic, antialiased, clamped to 0..255."""
    if tuple(x.shape[-2:]) == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True).clamp(0, 255)


def normalize_for_model(x: torch.Tensor, proc: FrameProcessing, dtype: torch.dtype) -> torch.Tensor:
    """float (T, 3, s, s) in 0..255 -> the model's pixel space: rescale, then (x - mean) / std."""
    mean = torch.tensor(proc.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(proc.std, device=x.device).view(1, 3, 1, 1)
    return ((x * proc.rescale - mean) / std).to(dtype)


def _mean_std(config: dict, default: float = 0.5) -> tuple[tuple, tuple]:
    mean = tuple(float(v) for v in config.get("image_mean", [default] * 3))
    std = tuple(float(v) for v in config.get("image_std", [default] * 3))
    return mean, std


class Family:
    """What the gazed MLLM needs from one model architecture (subclasses fill it in)."""

    kind = "base"  # the registry name: the config's model_type (a key of FAMILIES)
    title = "base"  # how error messages name the family
    trailing_tokens = 0  # LLM vision tokens after the frames' tokens (LLaVA-OV: one newline)

    def __init__(self, model, tokenizer, processing: FrameProcessing, chat_template: str | None):
        self.model = model
        self.tokenizer = tokenizer
        self.processing = processing
        self.chat_template = chat_template
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype

    # ---- geometry ------------------------------------------------------------------------------
    @property
    def patch_size(self) -> int:
        return int(self.vision_config.patch_size)

    @property
    def stock_side(self) -> int:
        """Side in px of a stock frame."""
        return self.processing.size

    def gaze_grid(self, single_scale: bool = False) -> MultiScaleGrid:
        """The aligned gaze grid: k x (2, 4, 7, 14) patches, k chosen so the finest scale is nearest the stock side."""
        p = self.patch_size
        k = max(1, round(self.stock_side / p / BASE_SIDES[-1]))
        sides = [k * s for s in BASE_SIDES]
        scales = sides[-1:] if single_scale else sides
        return MultiScaleGrid(tuple(s * p for s in scales), p)

    def pixels(self, frames: np.ndarray, size: int) -> torch.Tensor:
        """uint8 (T,H,W,3) -> (T,3,size,size) in the model's pixel space, dtype and device."""
        return normalize_for_model(squash(frames_to_float(frames, self.device), size), self.processing, self.dtype)

    def scale_pixels(self, frames: np.ndarray, grid: MultiScaleGrid) -> dict[int, torch.Tensor]:
        """uint8 (T,H,W,3) -> {side: (T,3,side,side)} for every scale of `grid`.

        The finest scale is made from the frames exactly as `pixels` makes stock frames (so a
        finest scale equal to the stock size gives the stock pixels); coarser scales are resized
        from it, which is cheaper than resizing the full-resolution frames again.
        """
        canvas = squash(frames_to_float(frames, self.device), grid.canvas)
        return {side: normalize_for_model(squash(canvas, side), self.processing, self.dtype) for side in grid.scales}

    def input_embeddings(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.get_input_embeddings()(ids)

    @property
    def shape(self) -> ArchitectureShape:
        """The sizes FLOPs depend on (analytic FLOPs)."""
        return self.architecture_shape(self.model.config, stock_side=self.stock_side)

    # ---- rules from the config alone (analytic FLOPs of models that are not loaded) -------------
    @classmethod
    def architecture_shape(cls, config, stock_side: int | None = None) -> ArchitectureShape:
        """The sizes FLOPs depend on, from the config; stock_side defaults to the vision image_size."""
        raise NotImplementedError

    @classmethod
    def stock_tokens_per_frame(cls, shape: ArchitectureShape) -> int:
        """LLM vision tokens one stock frame becomes."""
        raise NotImplementedError

    @classmethod
    def stock_llm_tokens(cls, shape: ArchitectureShape, num_frames: int) -> int:
        """LLM vision tokens of a stock clip of `num_frames` frames."""
        return num_frames * cls.stock_tokens_per_frame(shape) + cls.trailing_tokens

    @classmethod
    def gazed_llm_tokens(cls, shape: ArchitectureShape, tokens: GazedTokens) -> int:
        """LLM vision tokens the gazed patches of one clip become."""
        raise NotImplementedError

    @classmethod
    def default_text_tokens(cls, num_frames: int) -> int:
        """A typical count of the video prompt's tokens that are not vision tokens (estimates only)."""
        raise NotImplementedError

    @classmethod
    def merge_rule(cls, shape: ArchitectureShape) -> str:
        """One sentence: how encoder patches become LLM tokens, stock and gazed (why their counts fall
        by different factors); shown under the Ask tab's answers (`answer.token_note`)."""
        raise NotImplementedError

    # ---- filled in by subclasses ---------------------------------------------------------------
    vision_config: Any
    placeholder_id: int

    def embed_scale(self, pixels: torch.Tensor) -> torch.Tensor:
        """(T, 3, s, s) pixels -> (T, (s/p)^2, d) patch embeddings with the model's own module."""
        raise NotImplementedError

    def gazed_layers(self) -> Sequence[torch.nn.Module]:
        raise NotImplementedError

    def finish(self, hidden: torch.Tensor) -> torch.Tensor:
        """Encoder output (N, d) -> the features the connector takes."""
        return hidden

    def stock_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """(T, 3, s, s) stock pixels -> (T, n, d) features, through the model's own vision module."""
        raise NotImplementedError

    def stock_connector(self, features: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        """Stock features -> (M, D) LLM vision tokens in prompt order, and tokens per frame."""
        raise NotImplementedError

    def gazed_connector(self, features: torch.Tensor, tokens: GazedTokens) -> tuple[torch.Tensor, list[int]]:
        """Gazed features (N, d) -> (M, D) LLM vision tokens in prompt order, and tokens per frame."""
        raise NotImplementedError

    def prompt_ids(self, question: str, per_frame: Sequence[int], fps: float) -> torch.Tensor:
        """(1, L) prompt ids with one placeholder per vision token; frame t is at t / fps seconds."""
        raise NotImplementedError

    # ---- shared helpers ------------------------------------------------------------------------
    def render_chat(self, question: str, template: str | None) -> str:
        conversation = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": question}]}]
        try:
            return self.tokenizer.apply_chat_template(conversation, chat_template=template, tokenize=False,
                                                      add_generation_prompt=True)
        except Exception as exc:  # jinja or missing-template errors, reported in one line
            raise PlaygroundError(f"cannot render the chat template: {exc}") from exc

    def encode_text(self, text: str) -> torch.Tensor:
        ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        return ids.to(self.device)


class SmolVLMFamily(Family):
    """SmolVLM / SmolVLM2 (`SmolVLMForConditionalGeneration`): SigLIP with NaViT positions, pixel-shuffle connector."""

    kind = "smolvlm"
    title = "SmolVLM2 (SmolVLMForConditionalGeneration)"

    def __init__(self, model, tokenizer, processing, chat_template):
        super().__init__(model, tokenizer, processing, chat_template)
        core = model.model
        self.vision = core.vision_model
        self.connector = core.connector
        self.vision_config = model.config.vision_config
        self.factor = int(model.config.scale_factor)
        self.placeholder_id = int(model.config.image_token_id)
        self.image_token = getattr(tokenizer, "image_token", None) or "<image>"
        self.video_token = getattr(tokenizer, "video_token", None) or "<video>"
        self.fake_token = getattr(tokenizer, "fake_image_token", None) or "<fake_token_around_image>"
        self.global_token = getattr(tokenizer, "global_image_token", None) or "<global-img>"
        check(tokenizer.convert_tokens_to_ids(self.image_token) == self.placeholder_id,
              f"the tokenizer's {self.image_token} id differs from the model's image_token_id {self.placeholder_id}")
        side = self.stock_side // self.patch_size
        check(self.stock_side % self.patch_size == 0 and side % self.factor == 0,
              f"stock frames of {self.stock_side}px do not split into {self.factor}x{self.factor} groups "
              f"of {self.patch_size}px patches")

    @staticmethod
    def read_processing(name_or_path: str, config) -> FrameProcessing:
        pre = read_json(name_or_path, "preprocessor_config.json") or {}
        video = read_json(name_or_path, "video_preprocessor_config.json") or {}
        merged = {**pre, **video}
        size = (merged.get("max_image_size") or {}).get("longest_edge") or config.vision_config.image_size
        mean, std = _mean_std(merged)
        fps = float((merged.get("video_sampling") or {}).get("fps", merged.get("fps", 1.0)) or 1.0)
        return FrameProcessing(int(size), mean, std, float(merged.get("rescale_factor", 1 / 255)), fps)

    @classmethod
    def architecture_shape(cls, config, stock_side=None):
        v, t = config.vision_config, config.text_config
        return ArchitectureShape(cls.kind, vision_shape(v), v.num_hidden_layers, text_shape(t),
                                 ((v.hidden_size, t.hidden_size),), int(config.scale_factor),
                                 int(stock_side or v.image_size))

    @classmethod
    def stock_tokens_per_frame(cls, shape):
        return (shape.stock_side // shape.vision.patch // shape.factor) ** 2

    @classmethod
    def gazed_llm_tokens(cls, shape, tokens):
        return int(pixel_shuffle_groups(tokens, shape.factor)[2].sum())  # one token per touched r x r group

    @classmethod
    def default_text_tokens(cls, num_frames):
        return 47 + 13 * num_frames  # SmolVLM2's video intro and outro, and a timestamp line per frame

    @classmethod
    def merge_rule(cls, shape):
        r = shape.factor
        return (f"the connector merges each {r}x{r} group of encoder patches into one LLM token (pixel shuffle); "
                f"gazed groups are formed per scale and a group with any gazed patch still becomes a whole token, "
                f"so sparse gazes fill their groups only partly and the LLM saves less than the encoder")

    def embed_scale(self, pixels):
        T, _, h, w = pixels.shape
        mask = torch.ones(T, h // self.patch_size, w // self.patch_size, dtype=torch.bool, device=pixels.device)
        return self.vision.embeddings(pixel_values=pixels, patch_attention_mask=mask)

    def gazed_layers(self):
        return list(self.vision.encoder.layers)

    def finish(self, hidden):
        return self.vision.post_layernorm(hidden)

    def stock_features(self, pixels):
        T, _, h, w = pixels.shape
        mask = torch.ones(T, h // self.patch_size, w // self.patch_size, dtype=torch.bool, device=pixels.device)
        return self.vision(pixel_values=pixels, patch_attention_mask=mask).last_hidden_state

    def stock_connector(self, features):
        tokens = self.connector(features)  # (T, m, D)
        return tokens.reshape(-1, tokens.shape[-1]), [tokens.shape[1]] * tokens.shape[0]

    def gazed_connector(self, features, tokens):
        group, member, per_frame = pixel_shuffle_groups(tokens, self.factor)
        weight = self.connector.modality_projection.proj.weight
        out = sparse_pixel_shuffle(features, weight, group, member, int(per_frame.sum()), self.factor)
        return out, per_frame.tolist()

    def prompt_ids(self, question, per_frame, fps):
        from transformers.models.smolvlm.processing_smolvlm import (  # lazy: transformers is slow to import
            DEFAULT_CHAT_TEMPLATE, DEFAULT_MEDIA_OUTTRO, DEFAULT_VIDEO_INTRO, FRAME_TIMESTAMP_MESSAGE,
            _prompt_single_image)

        # SmolVLM's processor always uses its own video template (the repo's template predates video).
        text = self.render_chat(question, DEFAULT_CHAT_TEMPLATE)
        check(self.video_token in text, f"the chat template did not place a {self.video_token} token")
        duration = timedelta(seconds=int(len(per_frame) / fps))
        video = DEFAULT_VIDEO_INTRO.format(frame_count=num2words(len(per_frame)), video_duration=str(duration))
        for t, n in enumerate(per_frame):
            second = t / fps
            stamp = f"{int(second // 60):02d}:{int(second % 60):02d}"
            video += FRAME_TIMESTAMP_MESSAGE.format(timestamp=stamp) + _prompt_single_image(
                int(n), fake_token_around_image=self.fake_token, image_token=self.image_token,
                global_image_token=self.global_token)
        video += DEFAULT_MEDIA_OUTTRO
        return self.encode_text(text.replace(self.video_token, video, 1))



class LlavaOnevisionFamily(Family):
    """LLaVA-OneVision (`LlavaOnevisionForConditionalGeneration`): SigLIP, per-token MLP projector.

    The stock video path pools each frame's projected tokens 2x (bilinear) and appends one
    newline token after the video; the gazed path projects every gazed patch to one token (no
    pooling: it is parameter-free and needs a full grid) and keeps the trailing newline.
    """

    kind = "llava_onevision"
    title = "LLaVA-OneVision (LlavaOnevisionForConditionalGeneration)"
    trailing_tokens = 1  # the image_newline token after the video

    def __init__(self, model, tokenizer, processing, chat_template):
        super().__init__(model, tokenizer, processing, chat_template)
        core = model.model
        self.core = core
        self.vision = core.vision_tower
        self.projector = core.multi_modal_projector
        self.vision_config = model.config.vision_config
        self.placeholder_id = int(model.config.video_token_id)
        self.video_token = getattr(tokenizer, "video_token", None) or "<video>"
        check(tokenizer.convert_tokens_to_ids(self.video_token) == self.placeholder_id,
              f"the tokenizer's {self.video_token} id differs from the model's video_token_id {self.placeholder_id}")
        layer = model.config.vision_feature_layer
        check(isinstance(layer, int), "LLaVA-OneVision with a list of vision_feature_layer is not supported")
        self.feature_layer = layer
        self.layers_needed = self.layers_to_feature(model.config)
        check(model.config.vision_feature_select_strategy == "full",
              "LLaVA-OneVision video needs vision_feature_select_strategy='full' (SigLIP has no CLS token)")

    @staticmethod
    def read_processing(name_or_path: str, config) -> FrameProcessing:
        pre = read_json(name_or_path, "preprocessor_config.json") or {}
        video = read_json(name_or_path, "video_preprocessor_config.json") or {}
        merged = {**pre, **video}
        size = merged.get("size") or {}
        side = size.get("height") or size.get("shortest_edge") or config.vision_config.image_size
        mean, std = _mean_std(merged)
        return FrameProcessing(int(side), mean, std, float(merged.get("rescale_factor", 1 / 255)), 1.0)

    @staticmethod
    def layers_to_feature(config) -> int:
        """Encoder layers that run up to the feature layer (hidden_states[0] is the embedding)."""
        layer, total = config.vision_feature_layer, config.vision_config.num_hidden_layers
        return layer if isinstance(layer, int) and layer >= 0 else total + 1 + int(layer)

    @classmethod
    def architecture_shape(cls, config, stock_side=None):
        v, t = config.vision_config, config.text_config
        connector = ((v.hidden_size, t.hidden_size), (t.hidden_size, t.hidden_size))
        return ArchitectureShape(cls.kind, vision_shape(v), cls.layers_to_feature(config), text_shape(t), connector,
                                 1, int(stock_side or v.image_size))

    @classmethod
    def stock_tokens_per_frame(cls, shape):
        return ((shape.stock_side // shape.vision.patch + 1) // 2) ** 2  # 2x bilinear pooling, ceil

    @classmethod
    def gazed_llm_tokens(cls, shape, tokens):
        return tokens.num_tokens + cls.trailing_tokens  # one token per gazed patch (no pooling)

    @classmethod
    def default_text_tokens(cls, num_frames):
        return 16  # the chat template's role markers around one <video> run

    @classmethod
    def merge_rule(cls, shape):
        return ("stock frames are pooled 2x per side (about 4 patches to one LLM token), while each gazed patch "
                "becomes one LLM token (no pooling), so the LLM saves less than the encoder")

    def embed_scale(self, pixels):
        return self.vision.embeddings(pixels, interpolate_pos_encoding=True)

    def gazed_layers(self):
        return list(self.vision.encoder.layers[: self.layers_needed])

    def stock_features(self, pixels):
        out = self.vision(pixel_values=pixels, output_hidden_states=True, return_dict=True)
        return out.hidden_states[self.feature_layer]

    def stock_connector(self, features):
        tokens = self.core.apply_pooling(self.projector(features))  # (T, m, D)
        per_frame = [tokens.shape[1]] * tokens.shape[0]
        tokens = torch.cat([tokens.reshape(-1, tokens.shape[-1]), self.newline()], dim=0)
        return tokens, per_frame

    def gazed_connector(self, features, tokens):
        projected = self.projector(features)
        return torch.cat([projected, self.newline()], dim=0), tokens.per_frame.tolist()

    def newline(self) -> torch.Tensor:
        return self.core.image_newline[None].to(self.dtype)

    def prompt_ids(self, question, per_frame, fps):
        text = self.render_chat(question, self.chat_template)
        check(self.video_token in text, f"the chat template did not place a {self.video_token} token")
        run = self.video_token * (int(sum(per_frame)) + self.trailing_tokens)  # + the newline after the video
        return self.encode_text(text.replace(self.video_token, run, 1))



# The registry: config model_type -> family. NVILA is no Family: it runs its own remote code (nvila.py).
FAMILIES: dict[str, type[Family]] = {family.kind: family for family in (SmolVLMFamily, LlavaOnevisionFamily)}


def family_for(model_type: str) -> type[Family]:
    """The family class for a config's model_type (PlaygroundError if unsupported)."""
    if model_type in FAMILIES:
        return FAMILIES[model_type]
    supported = " or ".join(family.title for family in FAMILIES.values())
    raise PlaygroundError(f"model type {model_type!r} is not supported: use a {supported} model, "
                          f"or NVILA with trust_remote_code")

