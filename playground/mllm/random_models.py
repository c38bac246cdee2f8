"""Random-weight models of the supported classes, built in code (offline tests, demos, benchmarks).

`load_mllm("tiny-random-smolvlm2")` builds the tiny SmolVLM2 of `tiny_smolvlm` in memory (likewise
`tiny-random-qwen3-vl` and `tiny-random-qwen3.5`, `tiny_qwen`): the Ask tab and the CLI can show the
mechanics and costs offline (their answers are noise). `save_tiny_smolvlm(folder)`,
`save_tiny_llava_onevision(folder)` and `save_tiny_qwen(folder, kind)` write a complete model folder
(config, safetensors weights, tokenizer, preprocessor and processor configs, chat template) with
`save_pretrained`, in the layout of the hub repositories, so that `load_mllm(folder)` goes through
the real loading code. `smolvlm2_256m_config` and friends give the published architectures' sizes
for timing with random weights (written down from the hub configs; see docs/mllm.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .families import FrameProcessing
from .model import GazedMLLM

TINY_RANDOM_SMOLVLM2 = "tiny-random-smolvlm2"  # built into load_mllm: runs offline, answers nothing real
RANDOM_WEIGHTS_NOTE = "random weights: shows the mechanics and costs, not answers"
SMOLVLM_SPECIAL = [
    "<|im_start|>",
    "<end_of_utterance>",
    "<image>",
    "<fake_token_around_image>",
    "<global-img>",
    "<video>",
    "<|endoftext|>",
]
LLAVA_SPECIAL = ["<|im_start|>", "<|im_end|>", "<image>", "<video>", "<|endoftext|>"]
QWEN_SPECIAL = [
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<|endoftext|>",
]
TINY_RANDOM_QWEN3_VL = "tiny-random-qwen3-vl"  # built into load_mllm, like tiny-random-smolvlm2
TINY_RANDOM_QWEN3_5 = "tiny-random-qwen3.5"  # likewise
CORPUS = [
    "You are provided the following series of frames from a video. Frame from 00:01:",
    "User: What happens in this video? Assistant: A rabbit walks across a green field under a tree.",
    "user\nDescribe the video.\nassistant\nA bird flies over the water and the sun sets behind the hills.",
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen",
]
# The chat template of the llava-hf LLaVA-OneVision repositories (Qwen2 style, media first).
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + ' '}}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ '\n' + content['text'] }}"
    "{% endfor %}{{'<|im_end|>\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


# A Qwen-style chat template (media first, the video wrapped in vision start/end), as the Qwen-VL repos write it.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% for content in message['content'] %}{% if content['type'] == 'video' %}"
    "{{ '<|vision_start|><|video_pad|><|vision_end|>' }}{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}{{ '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def tiny_tokenizer(special: list[str], vocab_size: int = 400):
    """A byte-level BPE tokenizer trained in code on a few sentences, with the given special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # lazy: only the tiny models need it

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def _smolvlm_tokenizer():
    from transformers import PreTrainedTokenizerFast  # lazy: transformers is slow to import

    return PreTrainedTokenizerFast(
        tokenizer_object=tiny_tokenizer(SMOLVLM_SPECIAL),
        bos_token="<|im_start|>",
        eos_token="<end_of_utterance>",
        pad_token="<|endoftext|>",
        extra_special_tokens={
            "image_token": "<image>",
            "fake_image_token": "<fake_token_around_image>",
            "global_image_token": "<global-img>",
            "video_token": "<video>",
            "end_of_utterance_token": "<end_of_utterance>",
        },
    )


def _llava_tokenizer():
    from transformers import PreTrainedTokenizerFast  # lazy: transformers is slow to import

    return PreTrainedTokenizerFast(
        tokenizer_object=tiny_tokenizer(LLAVA_SPECIAL),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={"image_token": "<image>", "video_token": "<video>"},
    )


def _qwen_tokenizer():
    from transformers import PreTrainedTokenizerFast  # lazy: transformers is slow to import

    return PreTrainedTokenizerFast(
        tokenizer_object=tiny_tokenizer(QWEN_SPECIAL),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=QWEN_CHAT_TEMPLATE,
    )


def smolvlm_config(tokenizer, vision: dict, text: dict, scale_factor: int):
    """A SmolVLMConfig whose special ids come from `tokenizer`."""
    from transformers import SmolVLMConfig  # lazy: transformers is slow to import

    text = dict(
        model_type="llama",
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **text,
    )
    text.setdefault("vocab_size", len(tokenizer))
    return SmolVLMConfig(
        vision_config=vision,
        text_config=text,
        scale_factor=scale_factor,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
    )


def smolvlm2_256m_config(tokenizer):
    """SmolVLM2-256M-Video-Instruct's architecture (hub config.json), special ids from `tokenizer`.

    Vision: SigLIP-B/16 at 512 px (hidden 768, MLP 3072, 12 layers, 12 heads, patch 16);
    pixel shuffle 4 (64 tokens per frame); text: SmolLM2-135M (hidden 576, MLP 1536, 30 layers,
    9 heads, 3 KV heads, head_dim 64, vocab 49280, rope_theta 100000).
    """
    vision = dict(
        hidden_size=768,
        intermediate_size=3072,
        num_hidden_layers=12,
        num_attention_heads=12,
        image_size=512,
        patch_size=16,
    )
    text = dict(
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        head_dim=64,
        vocab_size=49280,
        rms_norm_eps=1e-5,
        rope_theta=100000.0,
        max_position_embeddings=8192,
    )
    return smolvlm_config(tokenizer, vision, text, scale_factor=4)


def smolvlm2_2b_config(tokenizer):
    """SmolVLM2-2.2B-Instruct's architecture: SigLIP so400m/14 at 384 px (hidden 1152, MLP 4304, 27 layers,
    16 heads), pixel shuffle 3 (81 tokens per frame), SmolLM2-1.7B (hidden 2048, MLP 8192, 24 layers, 32 heads)."""
    vision = dict(
        hidden_size=1152,
        intermediate_size=4304,
        num_hidden_layers=27,
        num_attention_heads=16,
        image_size=384,
        patch_size=14,
    )
    text = dict(
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=24,
        num_attention_heads=32,
        num_key_value_heads=32,
        head_dim=64,
        vocab_size=49280,
        rms_norm_eps=1e-5,
        rope_theta=130000.0,
        max_position_embeddings=16384,
    )
    return smolvlm_config(tokenizer, vision, text, scale_factor=3)


def llava_onevision_config(tokenizer, vision: dict, text: dict):
    """A LlavaOnevisionConfig (feature layer -1, 'full' features) whose special ids come from `tokenizer`."""
    from transformers import LlavaOnevisionConfig  # lazy: transformers is slow to import

    text = dict(model_type="qwen2", pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, **text)
    text.setdefault("vocab_size", len(tokenizer))
    return LlavaOnevisionConfig(
        vision_config=dict(model_type="siglip_vision_model", **vision),
        text_config=text,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_id=tokenizer.convert_tokens_to_ids("<video>"),
        vision_feature_layer=-1,
        vision_feature_select_strategy="full",
    )


def llava_onevision_7b_config(tokenizer):
    """llava-onevision-qwen2-7b-ov-hf's architecture: SigLIP so400m/14 at 384 px with 26 layers (hidden 1152,
    MLP 4304, 16 heads), Qwen2-7B (hidden 3584, MLP 18944, 28 layers, 28 heads, 4 KV heads, vocab 152128)."""
    vision = dict(
        hidden_size=1152,
        intermediate_size=4304,
        num_hidden_layers=26,
        num_attention_heads=16,
        image_size=384,
        patch_size=14,
        vision_use_head=False,
    )
    text = dict(
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        vocab_size=152128,
        rope_theta=1000000.0,
        max_position_embeddings=32768,
    )
    return llava_onevision_config(tokenizer, vision, text)


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2))


def smolvlm_processing_files(folder: Path, side: int, image_seq_len: int) -> None:
    """preprocessor_config.json and processor_config.json as the SmolVLM2 hub repositories hold them."""
    _write_json(
        folder / "preprocessor_config.json",
        {
            "image_processor_type": "SmolVLMImageProcessor",
            "processor_class": "SmolVLMProcessor",
            "do_convert_rgb": True,
            "do_image_splitting": False,
            "do_normalize": True,
            "do_pad": True,
            "do_rescale": True,
            "do_resize": True,
            "image_mean": [0.5, 0.5, 0.5],
            "image_std": [0.5, 0.5, 0.5],
            "max_image_size": {"longest_edge": side},
            "resample": 1,
            "rescale_factor": 1 / 255,
            "size": {"longest_edge": 4 * side},
            "video_sampling": {"fps": 1, "max_frames": 64, "video_size": {"longest_edge": side}},
        },
    )
    _write_json(
        folder / "processor_config.json", {"image_seq_len": image_seq_len, "processor_class": "SmolVLMProcessor"}
    )


def save_model(model, tokenizer, folder: str | Path) -> Path:
    """save_pretrained the model (safetensors) and tokenizer, with a generation config that stops at EOS."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_smolvlm(seed: int = 0, image_size: int = 56, patch_size: int = 4, scale_factor: int = 2):
    """(model, tokenizer) of a tiny random SmolVLM2, built in memory (the global torch seed is left alone).

    56 px frames, patch 4 (14 x 14 patches), pixel shuffle 2 (49 tokens); generation stops at EOS.
    """
    from transformers import SmolVLMForConditionalGeneration  # lazy: transformers is slow to import

    tok = _smolvlm_tokenizer()
    vision = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=image_size,
        patch_size=patch_size,
    )
    text = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=4096,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmolVLMForConditionalGeneration(smolvlm_config(tok, vision, text, scale_factor)).eval()
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    return model, tok


def tiny_smolvlm_processing(image_size: int = 56):
    """The frame processing that `smolvlm_processing_files` describes (SmolVLM2's mean, std, 1 fps)."""
    return FrameProcessing(image_size, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 1 / 255, 1.0)


def load_tiny_random_smolvlm2(device, dtype: torch.dtype):
    """The built-in `tiny-random-smolvlm2` (no files, no network): the saved `save_tiny_smolvlm` model, in memory."""
    model, tok = tiny_smolvlm()
    mllm = GazedMLLM.from_model(
        model.to(device=device, dtype=dtype), tok, tiny_smolvlm_processing(), name=TINY_RANDOM_SMOLVLM2
    )
    mllm.note = RANDOM_WEIGHTS_NOTE
    return mllm


def save_tiny_smolvlm(
    folder: str | Path, seed: int = 0, image_size: int = 56, patch_size: int = 4, scale_factor: int = 2
) -> Path:
    """A tiny random SmolVLM2 folder: 56 px frames, patch 4 (14 x 14 patches), pixel shuffle 2 (49 tokens)."""
    model, tok = tiny_smolvlm(seed, image_size, patch_size, scale_factor)
    folder = save_model(model, tok, folder)
    smolvlm_processing_files(folder, image_size, (image_size // patch_size // scale_factor) ** 2)
    return folder


def save_tiny_llava_onevision(folder: str | Path, seed: int = 0, image_size: int = 28, patch_size: int = 2) -> Path:
    """A tiny random LLaVA-OneVision folder: 28 px frames, patch 2 (14 x 14 patches, 49 pooled tokens)."""
    from transformers import LlavaOnevisionForConditionalGeneration  # lazy: transformers is slow to import

    torch.manual_seed(seed)
    tok = _llava_tokenizer()
    vision = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=image_size,
        patch_size=patch_size,
        vision_use_head=False,
    )
    text = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
    )
    model = LlavaOnevisionForConditionalGeneration(llava_onevision_config(tok, vision, text)).eval()
    folder = save_model(model, tok, folder)
    _write_json(
        folder / "preprocessor_config.json",
        {
            "image_processor_type": "LlavaOnevisionImageProcessor",
            "processor_class": "LlavaOnevisionProcessor",
            "image_mean": [0.5, 0.5, 0.5],
            "image_std": [0.5, 0.5, 0.5],
            "rescale_factor": 1 / 255,
            "size": {"height": image_size, "width": image_size},
            "resample": 3,
        },
    )
    _write_json(folder / "chat_template.json", {"chat_template": LLAVA_CHAT_TEMPLATE})
    return folder


def qwen3_vl_config(tokenizer, vision: dict, text: dict, tie: bool = True, kind: str = "qwen3_vl"):
    """A Qwen3VLConfig (kind 'qwen3_5': a Qwen3_5Config) whose special ids come from `tokenizer` (patch merge 2,
    tubelets of 2 frames)."""
    from transformers import Qwen3_5Config, Qwen3VLConfig  # lazy: transformers is slow to import

    config_class = {"qwen3_vl": Qwen3VLConfig, "qwen3_5": Qwen3_5Config}[kind]
    text = dict(pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, **text)
    text.setdefault("vocab_size", len(tokenizer))
    ids = {
        name: tokenizer.convert_tokens_to_ids(token)
        for name, token in (
            ("image_token_id", "<|image_pad|>"),
            ("video_token_id", "<|video_pad|>"),
            ("vision_start_token_id", "<|vision_start|>"),
            ("vision_end_token_id", "<|vision_end|>"),
        )
    }
    return config_class(
        vision_config=dict(spatial_merge_size=2, temporal_patch_size=2, **vision),
        text_config=text,
        tie_word_embeddings=tie,
        **ids,
    )


# The vision tower of Qwen3-VL-2B and Qwen3.5-2B (the same sizes; Qwen3-VL adds DeepStack layers).
QWEN_2B_VISION = dict(
    depth=24,
    hidden_size=1024,
    intermediate_size=4096,
    num_heads=16,
    patch_size=16,
    out_hidden_size=2048,
    num_position_embeddings=2304,
)


def qwen3_vl_2b_config(tokenizer):
    """Qwen3-VL-2B-Instruct's architecture (hub config.json, written down without network access to re-check):
    vision 24 layers (hidden 1024, MLP 4096, 16 heads, patch 16, 2x2 merge, 2-frame tubelets, 2304 learned
    positions, DeepStack at layers 5, 11, 17); text Qwen3-1.7B-like (hidden 2048, MLP 6144, 28 layers, 16 heads,
    8 KV heads, head_dim 128, vocab 151936, tied embeddings, M-RoPE sections 24/20/20)."""
    vision = dict(QWEN_2B_VISION, deepstack_visual_indexes=[5, 11, 17])
    text = dict(
        hidden_size=2048,
        intermediate_size=6144,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=128,
        vocab_size=151936,
        max_position_embeddings=262144,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 5000000.0,
            "mrope_section": [24, 20, 20],
            "mrope_interleaved": True,
        },
    )
    return qwen3_vl_config(tokenizer, vision, text)


def qwen3_5_2b_config(tokenizer):
    """Qwen3.5-2B's architecture (hub config.json, written down without network access to re-check: the text and
    vision sizes from public copies of its config, the linear-attention heads as in Qwen3.5-0.8B's): vision 24
    layers (hidden 1024, MLP 4096, 16 heads, patch 16, 2x2 merge, 2-frame tubelets, 2304 learned positions, no
    DeepStack); text 24 layers, 3 Gated DeltaNet layers then 1 full-attention layer, repeated (hidden 2048, MLP
    6144; full attention 8 heads, 2 KV heads, head_dim 256, gated output, a quarter of each head rotary; linear
    attention 16 query/key and 16 value heads of 128, conv kernel 4), vocab 248320, tied embeddings."""
    vision = QWEN_2B_VISION
    text = dict(
        hidden_size=2048,
        intermediate_size=6144,
        num_hidden_layers=24,
        num_attention_heads=8,
        num_key_value_heads=2,
        head_dim=256,
        linear_num_key_heads=16,
        linear_num_value_heads=16,
        linear_key_head_dim=128,
        linear_value_head_dim=128,
        linear_conv_kernel_dim=4,
        vocab_size=248320,
        max_position_embeddings=262144,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 10000000.0,
            "partial_rotary_factor": 0.25,
            "mrope_section": [11, 11, 10],
            "mrope_interleaved": True,
        },
    )
    return qwen3_vl_config(tokenizer, vision, text, kind="qwen3_5")


# The tiny Qwen-VL models: patch 2, so 56 px stock frames (28 x 28 patches, 14 x 14 LLM tokens per 2-frame
# tubelet) and the gaze grid 8/16/28/56 px; 2 vision layers (hidden 32); an LLM of hidden 32.
TINY_QWEN_VISION = dict(
    depth=2, hidden_size=32, intermediate_size=64, num_heads=4, out_hidden_size=32, num_position_embeddings=64
)
TINY_QWEN_TEXT = dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=8)


def tiny_qwen(kind: str = "qwen3_vl", seed: int = 0, patch_size: int = 2):
    """(model, tokenizer) of a tiny random Qwen3-VL or Qwen3.5 (`kind`), built in memory (the global torch seed
    is left alone), with the sizes of `TINY_QWEN_VISION` and `TINY_QWEN_TEXT`.

    Qwen3-VL: DeepStack after the first vision layer, 2 LLM layers. Qwen3.5: no DeepStack, 4 LLM layers as the
    released pattern lays them out (3 Gated DeltaNet layers, then full attention), the Gated DeltaNet with 2
    query/key heads of 8 and 4 value heads of 4 (unequal, so that FLOPs tests tell the sizes apart).
    """
    from transformers import Qwen3_5ForConditionalGeneration, Qwen3VLForConditionalGeneration  # lazy: slow import

    tok = _qwen_tokenizer()
    vision = dict(TINY_QWEN_VISION, patch_size=patch_size)
    rope = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 1, 1], "mrope_interleaved": True}
    text = dict(TINY_QWEN_TEXT, max_position_embeddings=4096, num_hidden_layers=2, rope_parameters=rope)
    if kind == "qwen3_vl":
        vision["deepstack_visual_indexes"] = [0]
    else:  # part of each full-attention head rotary, as released (a quarter of 256 there; 6 of 8 here)
        rope.update(partial_rotary_factor=0.75, mrope_section=[1, 1, 1])
        text.update(num_hidden_layers=4, linear_num_key_heads=2, linear_num_value_heads=4)
        text.update(linear_key_head_dim=8, linear_value_head_dim=4, linear_conv_kernel_dim=4)
    model_class = {"qwen3_vl": Qwen3VLForConditionalGeneration, "qwen3_5": Qwen3_5ForConditionalGeneration}[kind]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_class(qwen3_vl_config(tok, vision, text, kind=kind)).eval()
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    return model, tok


def qwen_processing(side: int) -> FrameProcessing:
    """Qwen-VL's frame processing (mean and std 0.5, the video processor's 2 fps) with stock frames of `side` px."""
    return FrameProcessing(side, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 1 / 255, 2.0)


def load_tiny_random_qwen(kind: str, name: str, device, dtype: torch.dtype):
    """A built-in tiny Qwen-VL (no files, no network): the saved `save_tiny_qwen` model of `kind`, in memory."""
    model, tok = tiny_qwen(kind)
    mllm = GazedMLLM.from_model(
        model.to(device=device, dtype=dtype), tok, qwen_processing(56), chat_template=QWEN_CHAT_TEMPLATE, name=name
    )
    mllm.note = RANDOM_WEIGHTS_NOTE
    return mllm


def load_tiny_random_qwen3_vl(device, dtype: torch.dtype):
    """The built-in `tiny-random-qwen3-vl`."""
    return load_tiny_random_qwen("qwen3_vl", TINY_RANDOM_QWEN3_VL, device, dtype)


def load_tiny_random_qwen3_5(device, dtype: torch.dtype):
    """The built-in `tiny-random-qwen3.5`."""
    return load_tiny_random_qwen("qwen3_5", TINY_RANDOM_QWEN3_5, device, dtype)


def save_tiny_qwen(folder: str | Path, kind: str = "qwen3_vl", seed: int = 0) -> Path:
    """A tiny random Qwen3-VL or Qwen3.5 folder (`tiny_qwen`) with the video preprocessor config and chat template."""
    model, tok = tiny_qwen(kind, seed)
    folder = save_model(model, tok, folder)
    _write_json(
        folder / "video_preprocessor_config.json",
        {
            "video_processor_type": "Qwen3VLVideoProcessor",
            "processor_class": "Qwen3VLProcessor",
            "image_mean": [0.5, 0.5, 0.5],
            "image_std": [0.5, 0.5, 0.5],
            "rescale_factor": 1 / 255,
            "fps": 2,
            "patch_size": 2,
            "temporal_patch_size": 2,
            "merge_size": 2,
        },
    )
    _write_json(folder / "chat_template.json", {"chat_template": QWEN_CHAT_TEMPLATE})
    return folder


def save_tiny_qwen3_vl(folder: str | Path, seed: int = 0) -> Path:
    """A tiny random Qwen3-VL folder."""
    return save_tiny_qwen(folder, "qwen3_vl", seed)


def save_tiny_qwen3_5(folder: str | Path, seed: int = 0) -> Path:
    """A tiny random Qwen3.5 folder."""
    return save_tiny_qwen(folder, "qwen3_5", seed)
