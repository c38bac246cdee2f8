"""Model families: what differs between SmolVLM2, LLaVA-OneVision, Qwen3-VL and Qwen3.5 on the stock and gazed paths.

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

from contextlib import contextmanager
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
from .flops import ArchitectureShape, TextShape, VisionShape, hybrid_text_shape, text_shape, vision_shape
from .gazed_vit import GazedTokens, additive_mask, attention_mask, attention_sequences, embed_slots, encode_gazed
from .tubelets import TubeletLayout, full_layout, tubelet_layout

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


def read_model_json(name_or_path: str, filename: str) -> dict[str, Any] | None:
    """A JSON file of a hub repo or local folder (None when absent); respects HF_HUB_OFFLINE."""
    from transformers.utils import cached_file  # lazy: transformers is slow to import

    path = cached_file(
        name_or_path,
        filename,
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False,
    )
    if path is None:
        return None
    return jsonio.read_json(path, f"{name_or_path}: {filename}", want_object=False)


def read_text(name_or_path: str, filename: str) -> str | None:
    """A text file of a hub repo or local folder (None when absent)."""
    from transformers.utils import cached_file  # lazy: transformers is slow to import

    path = cached_file(
        name_or_path,
        filename,
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False,
    )
    return None if path is None else open(path).read()


def read_chat_template(name_or_path: str) -> str | None:
    """The processor's chat template: chat_template.jinja, chat_template.json or processor_config.json."""
    text = read_text(name_or_path, "chat_template.jinja")
    if text:
        return text
    for filename in ("chat_template.json", "processor_config.json"):
        data = read_model_json(name_or_path, filename) or {}
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


def processor_config(name_or_path: str) -> dict:
    """preprocessor_config.json, overridden by video_preprocessor_config.json where both set a key."""
    pre = read_model_json(name_or_path, "preprocessor_config.json") or {}
    return {**pre, **(read_model_json(name_or_path, "video_preprocessor_config.json") or {})}


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

    def check_stock_groups(self, factor: int) -> None:
        """Stock frames must split into factor x factor groups of whole patches (the connector's groups)."""
        check(
            self.stock_side % (self.patch_size * factor) == 0,
            f"stock frames of {self.stock_side}px do not split into {factor}x{factor} groups "
            f"of {self.patch_size}px patches",
        )

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
    def stock_sequences(cls, shape: ArchitectureShape, num_frames: int) -> tuple[int, list[int]]:
        """(patches through the patch embedding, encoder attention sequence lengths) of a stock clip:
        every patch of every frame, one sequence per frame."""
        n = (shape.stock_side // shape.vision.patch) ** 2
        return num_frames * n, [n] * num_frames

    @classmethod
    def gazed_encoder_tokens(cls, shape: ArchitectureShape, tokens: GazedTokens) -> list[int]:
        """Patches the gazed encoder runs, per frame (the gazed slots themselves)."""
        return tokens.per_frame.tolist()

    @classmethod
    def gazed_sequences(cls, shape: ArchitectureShape, tokens: GazedTokens, attention: str) -> tuple[int, list[int]]:
        """(patches through the patch embedding, encoder attention sequence lengths) of a gazed clip:
        every slot of every frame is embedded (then gathered); one sequence per gazed frame
        (frame_independent), else one of N tokens (`gazed_vit.attention_sequences`)."""
        return tokens.per_frame.numel() * tokens.grid.num_slots, attention_sequences(tokens.per_frame, attention)

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

    def gazed_layout(self, tokens: GazedTokens) -> Any:
        """The gazed tokens as this family's encoder and connector take them (here: as they are)."""
        return tokens

    def similarity_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """(M, D') LLM vision tokens -> the (M, D) vectors EVS compares across frames (here: themselves)."""
        return tokens

    def pruned_layout(self, keep: torch.Tensor, num_frames: int) -> Any:
        """The layout of post-ViT pruned stock tokens, (M,) bool `keep` over the frame tokens (`pruning.py`);
        None: the prompt is laid out from the kept counts per frame, as the gazed path's is."""
        return None

    def gazed_features(self, pixels: dict[int, torch.Tensor], layout: Any, attention: str) -> torch.Tensor:
        """{side: (T,3,s,s)} pixels -> (N, d) encoder features of the gazed slots: every scale embedded by
        the model's own module, the gazed slots gathered, the model's layers run in `attention` mode."""
        embeddings = embed_slots(lambda side: self.embed_scale(pixels[side]), layout.grid)
        return self.finish(encode_gazed(embeddings, layout, self.gazed_layers(), attention))

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

    def llm_inputs(self, question: str, vision, fps: float, num_frames: int) -> tuple[torch.Tensor, dict]:
        """(1, L) prompt ids and the keyword inputs of `model.generate` (here: `inputs_embeds` with the
        vision tokens at the placeholders) for a `model.VisionOutput` of `num_frames` frames."""
        ids = self.prompt_ids(question, vision.per_frame, fps)
        return ids, {"inputs_embeds": self.splice(ids, vision.tokens)}

    def splice(self, ids: torch.Tensor, vision_tokens: torch.Tensor) -> torch.Tensor:
        """(1, L) prompt ids + (M, D) vision tokens -> (1, L, D) inputs_embeds, tokens at the placeholders."""
        embeds = self.input_embeddings(ids)
        slots = ids[0] == self.placeholder_id
        check(
            int(slots.sum()) == vision_tokens.shape[0],
            f"the prompt has {int(slots.sum())} vision placeholders for {vision_tokens.shape[0]} vision tokens",
        )
        embeds[0, slots] = vision_tokens.to(embeds.dtype)
        return embeds

    # ---- shared helpers ------------------------------------------------------------------------
    def render_chat(self, question: str, template: str | None) -> str:
        conversation = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": question}]}]
        try:
            return self.tokenizer.apply_chat_template(
                conversation, chat_template=template, tokenize=False, add_generation_prompt=True
            )
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
        check(
            tokenizer.convert_tokens_to_ids(self.image_token) == self.placeholder_id,
            f"the tokenizer's {self.image_token} id differs from the model's image_token_id {self.placeholder_id}",
        )
        self.check_stock_groups(self.factor)

    @staticmethod
    def read_processing(name_or_path: str, config) -> FrameProcessing:
        merged = processor_config(name_or_path)
        size = (merged.get("max_image_size") or {}).get("longest_edge") or config.vision_config.image_size
        mean, std = _mean_std(merged)
        fps = float((merged.get("video_sampling") or {}).get("fps", merged.get("fps", 1.0)) or 1.0)
        return FrameProcessing(int(size), mean, std, float(merged.get("rescale_factor", 1 / 255)), fps)

    @classmethod
    def architecture_shape(cls, config, stock_side=None):
        v, t = config.vision_config, config.text_config
        return ArchitectureShape(
            cls.kind,
            vision_shape(v),
            v.num_hidden_layers,
            text_shape(t),
            ((v.hidden_size, t.hidden_size),),
            int(config.scale_factor),
            int(stock_side or v.image_size),
        )

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
        return (
            f"the connector merges each {r}x{r} group of encoder patches into one LLM token (pixel shuffle); "
            f"gazed groups are formed per scale and a group with any gazed patch still becomes a whole token, "
            f"so sparse gazes fill their groups only partly and the LLM saves less than the encoder"
        )

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
            DEFAULT_CHAT_TEMPLATE,
            DEFAULT_MEDIA_OUTTRO,
            DEFAULT_VIDEO_INTRO,
            FRAME_TIMESTAMP_MESSAGE,
            _prompt_single_image,
        )

        # SmolVLM's processor always uses its own video template (the repo's template predates video).
        text = self.render_chat(question, DEFAULT_CHAT_TEMPLATE)
        check(self.video_token in text, f"the chat template did not place a {self.video_token} token")
        duration = timedelta(seconds=int(len(per_frame) / fps))
        video = DEFAULT_VIDEO_INTRO.format(frame_count=num2words(len(per_frame)), video_duration=str(duration))
        for t, n in enumerate(per_frame):
            second = t / fps
            stamp = f"{int(second // 60):02d}:{int(second % 60):02d}"
            video += FRAME_TIMESTAMP_MESSAGE.format(timestamp=stamp) + _prompt_single_image(
                int(n),
                fake_token_around_image=self.fake_token,
                image_token=self.image_token,
                global_image_token=self.global_token,
            )
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
        check(
            tokenizer.convert_tokens_to_ids(self.video_token) == self.placeholder_id,
            f"the tokenizer's {self.video_token} id differs from the model's video_token_id {self.placeholder_id}",
        )
        layer = model.config.vision_feature_layer
        check(isinstance(layer, int), "LLaVA-OneVision with a list of vision_feature_layer is not supported")
        self.feature_layer = layer
        self.layers_needed = self.layers_to_feature(model.config)
        check(
            model.config.vision_feature_select_strategy == "full",
            "LLaVA-OneVision video needs vision_feature_select_strategy='full' (SigLIP has no CLS token)",
        )

    @staticmethod
    def read_processing(name_or_path: str, config) -> FrameProcessing:
        merged = processor_config(name_or_path)
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
        return ArchitectureShape(
            cls.kind,
            vision_shape(v),
            cls.layers_to_feature(config),
            text_shape(t),
            connector,
            1,
            int(stock_side or v.image_size),
        )

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
        return (
            "stock frames are pooled 2x per side (about 4 patches to one LLM token), while each gazed patch "
            "becomes one LLM token (no pooling), so the LLM saves less than the encoder"
        )

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


# The attention function the block-causal gazed Qwen-VL encoder runs under: the model's vision attention
# passes no mask (it splits sequences by cu_seqlens), so its extra keyword `gaze_mask` is handed to SDPA.
QWEN_MASKED_ATTENTION = "playground_gaze_mask"


def _masked_sdpa(module, query, key, value, attention_mask, gaze_mask=None, **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward  # lazy: transformers is slow

    return sdpa_attention_forward(module, query, key, value, gaze_mask, **kwargs)


@contextmanager
def _vision_attention(config, name: str | None):
    """Run the vision tower's attention as `name` (a registered attention function) inside the block."""
    if name is None:
        yield
        return
    from transformers import AttentionInterface  # lazy: transformers is slow to import

    if name not in AttentionInterface._global_mapping:
        AttentionInterface.register(name, _masked_sdpa)
    saved = config._attn_implementation
    config._attn_implementation = name
    try:
        yield
    finally:
        config._attn_implementation = saved


class Qwen3VLFamily(Family):
    """Qwen3-VL (`Qwen3VLForConditionalGeneration`): a ViT on 2-frame tubelets with 2D rotary positions,
    a 2x2 patch merger, DeepStack features from a few encoder layers, and M-RoPE positions in the LLM.

    Units are tubelets, not frames: `llm_vision_tokens_per_frame` and `vision_tokens_per_frame` hold one
    entry per tubelet of `temporal` (2) frames. The gazed path lays the gaze out as `tubelets.TubeletLayout`
    (union over a tubelet's frames, each slot widened to its 2x2 merge group). Each scale of a tubelet is
    embedded as the model embeds an image of that size: its Conv3d patch embedding, its learned position
    table resampled by `vision_utils`' own functions, its rotary (row, column) ids; the kept patches are
    gathered from those. The LLM prompt gives each kept scale of a tubelet its own vision run, and the
    M-RoPE positions are the model's `get_rope_index` on the prompt with those runs whole, gathered for the
    kept tokens. Features carry the last layer's output and the DeepStack layers' hidden states side by
    side, (N, (1 + k) d); LLM vision tokens carry the merger's token and the k DeepStack tokens, (M, (1 + k) D).
    """

    kind = "qwen3_vl"
    title = "Qwen3-VL (Qwen3VLForConditionalGeneration)"

    def __init__(self, model, tokenizer, processing, chat_template):
        super().__init__(model, tokenizer, processing, chat_template)
        self.core = model.model
        self.visual = self.core.visual
        self.vision_config = model.config.vision_config
        self.merge = int(self.vision_config.spatial_merge_size)
        self.temporal = int(self.vision_config.temporal_patch_size)
        self.deepstack = [int(i) for i in getattr(self.vision_config, "deepstack_visual_indexes", None) or ()]
        self.placeholder_id = int(model.config.video_token_id)
        self.video_token, self.vision_start, self.vision_end = tokenizer.convert_ids_to_tokens(
            [self.placeholder_id, int(model.config.vision_start_token_id), int(model.config.vision_end_token_id)]
        )
        self.check_stock_groups(self.merge)

    @staticmethod
    def read_processing(name_or_path: str, config) -> FrameProcessing:
        merged = processor_config(name_or_path)
        mean, std = _mean_std(merged)
        # Stock frames are squashed to the gaze grid's finest scale, 2 x 14 patches (448 px at patch 16):
        # the processor's own sizes are pixel budgets, not a side.
        side = 2 * BASE_SIDES[-1] * int(config.vision_config.patch_size)
        return FrameProcessing(
            side, mean, std, float(merged.get("rescale_factor", 1 / 255)), float(merged.get("fps", 2.0) or 2.0)
        )

    # ---- rules from the config alone -------------------------------------------------------------
    @classmethod
    def llm_shape(cls, t) -> TextShape:
        """The LLM's `TextShape` from the text config (Qwen3-VL: a Qwen3 decoder)."""
        return text_shape(t)

    @classmethod
    def architecture_shape(cls, config, stock_side=None):
        v, t = config.vision_config, config.text_config
        d, m = v.hidden_size, v.spatial_merge_size
        # a tubelet patch holds temporal x 3 channels of p x p pixels (the Conv3d's input per output)
        vision = VisionShape(d, v.intermediate_size, v.depth, v.patch_size, v.in_channels * v.temporal_patch_size)
        mergers = 1 + len(getattr(v, "deepstack_visual_indexes", None) or ())
        connector = ((d, m * m * d), (d, v.out_hidden_size)) * mergers  # per patch: fc1 (m^2 d)^2, fc2 m^2 d x D
        return ArchitectureShape(
            cls.kind,
            vision,
            v.depth,
            cls.llm_shape(t),
            connector,
            m,
            int(stock_side or 2 * BASE_SIDES[-1] * v.patch_size),
            v.temporal_patch_size,
        )

    @classmethod
    def stock_tokens_per_frame(cls, shape):
        return (shape.stock_side // shape.vision.patch // shape.factor) ** 2  # per tubelet

    @classmethod
    def stock_llm_tokens(cls, shape, num_frames):
        return -(-num_frames // shape.temporal) * cls.stock_tokens_per_frame(shape)

    @classmethod
    def stock_sequences(cls, shape, num_frames):
        n = (shape.stock_side // shape.vision.patch) ** 2
        tubelets = -(-num_frames // shape.temporal)
        return tubelets * n, [n] * tubelets  # the model attends within each tubelet

    @classmethod
    def layout_of(cls, shape: ArchitectureShape, tokens: GazedTokens) -> TubeletLayout:
        return tubelet_layout(tokens, shape.temporal, shape.factor)

    @classmethod
    def gazed_encoder_tokens(cls, shape, tokens):
        return cls.layout_of(shape, tokens).per_tubelet_patches

    @classmethod
    def gazed_sequences(cls, shape, tokens, attention):
        per = cls.layout_of(shape, tokens).per_tubelet_patches  # only kept patches are embedded
        return sum(per), attention_sequences(torch.tensor(per), attention)

    @classmethod
    def gazed_llm_tokens(cls, shape, tokens):
        return int(sum(cls.layout_of(shape, tokens).per_tubelet_tokens))

    @classmethod
    def default_text_tokens(cls, num_frames):
        return 20 + 8 * -(-num_frames // 2)  # the chat template, and a timestamp and start/end per tubelet

    @classmethod
    def merge_rule(cls, shape):
        m, t = shape.factor, shape.temporal
        return (
            f"the encoder embeds {t} frames as one tubelet and its merger folds each {m}x{m} group of patches "
            f"into one LLM token; a gazed tubelet keeps the union of its frames' gazes and every gazed patch "
            f"brings its whole {m}x{m} group, so the encoder runs more patches than were gazed"
        )

    # ---- the model's pieces ----------------------------------------------------------------------
    def gazed_layers(self):
        return list(self.visual.blocks)

    def patchify(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(T, 3, s, s) pixels -> ((T' h w, 3 temporal p p) patches in the model's order, (1, 3) grid_thw),
        by the model's video processor (which repeats the last frame of an odd clip)."""
        from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor  # lazy

        flat, t, h, w = Qwen3VLVideoProcessor.patchify(None, pixels[None], self.patch_size, self.merge, self.temporal)
        return flat[0], torch.tensor([[t, h, w]], device=pixels.device)

    def embed(self, pixels: torch.Tensor, rows: torch.Tensor | None = None):
        """(T, 3, s, s) pixels of one scale -> (hidden (P, d), rotary (cos, sin)) of its patches `rows`
        (None: all), as the model's vision tower embeds a video of that size."""
        from transformers.vision_utils import get_vision_interpolation_indices_and_weights, get_vision_position_ids

        v = self.visual
        flat, grid_thw = self.patchify(pixels)
        rows = torch.arange(flat.shape[0], device=flat.device) if rows is None else rows.to(flat.device)
        taps, weights = get_vision_interpolation_indices_and_weights(
            grid_thw,
            num_grid_per_side=v.num_grid_per_side,
            mode=v.interpolation_mode,
            align_corners=v.interpolation_align_corners,
            spatial_merge_size=self.merge,
        )
        hidden = v.patch_embed(flat.index_select(0, rows))
        hidden = hidden + (v.pos_embed(taps[rows]) * weights[rows, :, None]).sum(1).to(hidden.dtype)
        return hidden, v.rotary_pos_emb(hidden, get_vision_position_ids(grid_thw, self.merge)[rows])

    def encode(self, hidden: torch.Tensor, rotary, tubelet: torch.Tensor, attention: str) -> torch.Tensor:
        """(N, d) embedded patches in token order (tubelet-major) -> (N, (1 + k) d): the last layer's output
        and the hidden states after the k DeepStack layers, through the model's own blocks.

        frame_independent: one sequence per tubelet (the model's own `cu_seqlens` split, as it runs a video);
        bidirectional: one sequence; block_causal: one sequence under a (1, 1, N, N) tubelet-causal mask.
        """
        tubelet = tubelet.to(hidden.device)
        lengths = torch.bincount(tubelet)
        lengths = lengths[lengths > 0] if attention == "frame_independent" else lengths.sum()[None]
        cu_seqlens = F.pad(lengths.cumsum(0, dtype=torch.int32), (1, 0))
        extra, impl = {}, None
        if attention == "block_causal":
            extra["gaze_mask"] = additive_mask(attention_mask(tubelet, attention), hidden.dtype)
            impl = QWEN_MASKED_ATTENTION
        saved = []
        with _vision_attention(self.vision_config, impl):
            for i, block in enumerate(self.visual.blocks):
                hidden = block(hidden, cu_seqlens=cu_seqlens, position_embeddings=rotary, **extra)
                if i in self.deepstack:
                    saved.append(hidden)
        return torch.cat([hidden, *saved], dim=-1)

    def connect(self, features: torch.Tensor) -> torch.Tensor:
        """(N, (1 + k) d) features, whole merge groups in order -> (N / m^2, (1 + k) D): the merger's
        tokens and the DeepStack mergers' tokens."""
        d = int(self.vision_config.hidden_size)
        deep = self.visual.deepstack_merger_list[: len(self.deepstack)] if self.deepstack else []  # Qwen3.5: none
        mergers = [self.visual.merger, *deep]
        return torch.cat(
            [merger(features[:, i * d : (i + 1) * d].contiguous()) for i, merger in enumerate(mergers)], dim=-1
        )

    # ---- stock and gazed paths -------------------------------------------------------------------
    def stock_features(self, pixels):
        hidden, rotary = self.embed(pixels)
        tubelets = -(-pixels.shape[0] // self.temporal)
        tubelet = torch.arange(tubelets).repeat_interleave(hidden.shape[0] // tubelets)
        return self.encode(hidden, rotary, tubelet, "frame_independent").reshape(
            tubelets, -1, hidden.shape[1] * (1 + len(self.deepstack))
        )

    def stock_connector(self, features):
        tokens = self.connect(features.reshape(-1, features.shape[-1]))
        return tokens, [tokens.shape[0] // features.shape[0]] * features.shape[0]

    def gazed_layout(self, tokens):
        return self.layout_of(self.shape, tokens)

    def gazed_features(self, pixels, layout, attention):
        rows, order, tubelet = layout.patch_order()
        parts = [self.embed(pixels[side], r) for side, r in zip(layout.grid.scales, rows)]
        hidden = torch.cat([h for h, _ in parts]).index_select(0, order.to(self.device))
        rotary = tuple(torch.cat([rot[i] for _, rot in parts]).index_select(0, order.to(self.device)) for i in (0, 1))
        return self.encode(hidden, rotary, tubelet, attention)

    def gazed_connector(self, features, layout):
        return self.connect(features), layout.per_tubelet_tokens

    def similarity_tokens(self, tokens):
        return tokens[:, : tokens.shape[1] // (1 + len(self.deepstack))]  # the merger's token, not DeepStack's

    def stock_layout(self, num_frames: int) -> TubeletLayout:
        """The stock path's layout: one scale (the stock side), every merge group of every tubelet."""
        return full_layout(MultiScaleGrid((self.stock_side,), self.patch_size), num_frames, self.temporal, self.merge)

    def pruned_layout(self, keep, num_frames):
        """The stock layout with the dropped groups off and every tubelet's run kept in the prompt, so the
        kept tokens get the stock prompt's M-RoPE positions (gathered in `llm_inputs`)."""
        layout = self.stock_layout(num_frames)
        layout.groups[0] = keep.view(layout.groups[0].shape)
        layout.whole_runs = True
        return layout

    # ---- the LLM's inputs ------------------------------------------------------------------------
    def video_prompt(self, question: str, runs: Sequence[Sequence[int]], fps: float, num_frames: int) -> torch.Tensor:
        """(1, L) ids: per tubelet its timestamp (the processor's: the mean of its frames' times, frame t
        at t / fps) and one `<|vision_start|>` + n placeholders + `<|vision_end|>` run per entry of `runs`."""
        from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor  # lazy

        stamps = Qwen3VLProcessor._calculate_timestamps(None, list(range(num_frames)), fps, self.temporal)
        video = "".join(
            f"<{stamp:.1f} seconds>"
            + "".join(self.vision_start + self.video_token * int(n) + self.vision_end for n in row)
            for stamp, row in zip(stamps, runs)
        )
        text = self.render_chat(question, self.chat_template)
        check(self.video_token in text, f"the chat template did not place a {self.video_token} token")
        text = text.replace(self.vision_start + self.video_token + self.vision_end, self.video_token, 1)
        return self.encode_text(text.replace(self.video_token, video, 1))

    def prompt_ids(self, question, per_frame, fps):
        """The stock layout: one run per tubelet (of 2 frames each)."""
        return self.video_prompt(question, [[n] for n in per_frame], fps, self.temporal * len(per_frame))

    def llm_inputs(self, question, vision, fps, num_frames):
        from transformers.models.qwen3_vl.modeling_qwen3_vl import BaseModelOutputWithDeepstackFeatures  # lazy

        layout = vision.layout or self.stock_layout(num_frames)
        runs = layout.prompt_runs()
        ids = self.video_prompt(question, [[n for _, n in row] for row in runs], fps, num_frames)
        video = ids[0] == self.placeholder_id
        sides = layout.grid.sides
        grid_thw = torch.tensor([[1, sides[s], sides[s]] for row in runs for s, _ in row], device=ids.device)
        positions, _ = self.core.get_rope_index(
            ids, mm_token_type_ids=video[None].int() * 2, video_grid_thw=grid_thw if len(grid_thw) else None
        )
        keep = torch.ones_like(video)
        keep[video] = layout.prompt_keep().to(ids.device)
        ids, positions = ids[:, keep], positions[:, :, keep]
        text = torch.arange(ids.shape[1], device=ids.device)[None, None]  # the causal mask's positions
        D = vision.tokens.shape[1] // (1 + len(self.deepstack))
        main, *deep = vision.tokens.split(D, dim=-1)
        encoded = BaseModelOutputWithDeepstackFeatures(pooler_output=(main,), deepstack_features=[(x,) for x in deep])
        return ids, {
            "inputs_embeds": self.input_embeddings(ids),
            "position_ids": torch.cat([text, positions]),
            "mm_encoder_outputs": {"video": encoded},
        }


class Qwen35Family(Qwen3VLFamily):
    """Qwen3.5 (`Qwen3_5ForConditionalGeneration`): Qwen3-VL's vision tower without DeepStack (the same
    tubelets, patch embedding, learned and rotary positions, blocks and 2x2 merger), Qwen3-VL's video
    processor and prompt (`transformers` maps qwen3_5 to `Qwen3VLProcessor`), and a hybrid LLM: Gated
    DeltaNet linear-attention layers (3 of every 4 in the released configs) and full-attention layers
    whose q_proj also makes the output gate, with M-RoPE positions from the model's own `get_rope_index`.

    Everything of `Qwen3VLFamily` holds as it is (its DeepStack parts are empty here: features (N, d),
    LLM vision tokens (M, D)); what differs is the LLM's analytic FLOPs (`flops.hybrid_text_shape`).
    """

    kind = "qwen3_5"
    title = "Qwen3.5 (Qwen3_5ForConditionalGeneration)"

    def __init__(self, model, tokenizer, processing, chat_template):
        super().__init__(model, tokenizer, processing, chat_template)
        # FlopCounterMode's module tracker hooks the inputs of every module that require grad; the Gated DeltaNet's
        # kernel functions are modules too, called with views of its conv weight that, made under inference_mode,
        # require grad but have no grad_fn, and the hook fails on them. Nothing here trains the MLLM.
        model.requires_grad_(False)

    @classmethod
    def llm_shape(cls, t):
        return hybrid_text_shape(t)


# The registry: config model_type -> family. NVILA is no Family: it runs its own remote code (nvila.py).
FAMILIES: dict[str, type[Family]] = {
    family.kind: family for family in (SmolVLMFamily, LlavaOnevisionFamily, Qwen3VLFamily, Qwen35Family)
}


def family_for(model_type: str) -> type[Family]:
    """The family class for a config's model_type (PlaygroundError if unsupported)."""
    if model_type in FAMILIES:
        return FAMILIES[model_type]
    supported = " or ".join(family.title for family in FAMILIES.values())
    raise PlaygroundError(
        f"model type {model_type!r} is not supported: use a {supported} model, or NVILA with trust_remote_code"
    )
