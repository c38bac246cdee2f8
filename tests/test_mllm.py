"""Gazed vision encoder and MLLM: exactness against the stock path, token counts, FLOPs, end to end.

Tiny random SmolVLM2 and LLaVA-OneVision models are built in code, saved with `save_pretrained`
and reloaded through `load_mllm` (the real loading code). Their stock frames have 14 x 14 patches,
so the model's gaze grid (k = 1: 2/4/7/14 patches per side) has the stock grid as its finest scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from playground import GazeResult, PlaygroundError, load_gazer, load_mllm
from playground.mllm import attention_warning, comparison_table, estimate_flops
from playground.mllm.answer import FLOP_LABELS, display_text, token_note
from playground.mllm.flops import StageCounter
from playground.mllm.gazed_vit import additive_mask, attention_mask, embed_slots, encode_gazed, gazed_tokens
from playground.mllm.gazer_flops import (
    ANALYTIC,
    MEASURED,
    ElementOpCounter,
    autogaze_flops,
    autogaze_gaze_flops,
    measured_gazer_ops,
)
from playground.mllm.random_models import save_tiny_llava_onevision, save_tiny_smolvlm

QUESTION = "What happens in this video?"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("mllm")
    return {"smolvlm": save_tiny_smolvlm(root / "smolvlm"), "llava": save_tiny_llava_onevision(root / "llava")}


@pytest.fixture(scope="module")
def smol(folders, device):
    return load_mllm(str(folders["smolvlm"]), device=device, dtype=torch.float32)  # float32 on CUDA too


@pytest.fixture(scope="module")
def llava(folders, device):
    return load_mllm(str(folders["llava"]), device=device, dtype=torch.float32)


@pytest.fixture(scope="module", params=["smolvlm", "llava"])
def mllm(request, smol, llava):
    return smol if request.param == "smolvlm" else llava


@pytest.fixture(scope="module")
def frames():
    """uint8 (3, 40, 60, 3): three different random frames (not square, so resizing squashes)."""
    return np.random.default_rng(0).integers(0, 256, (3, 40, 60, 3), dtype=np.uint8)


def full_gaze(mllm, frames) -> GazeResult:
    return load_gazer("full", grid=mllm.grid).gaze(frames)


def stock_features(mllm, frames) -> torch.Tensor:
    fam = mllm.family
    return fam.stock_features(fam.pixels(frames, fam.stock_side))


# ---- exactness of the gazed vision encoder ------------------------------------------------------
def test_gazed_vit_grid_matches_stock_grid(mllm):
    grid = mllm.grid
    assert grid.sides == (2, 4, 7, 14)
    assert grid.canvas == mllm.family.stock_side and grid.patch_size == mllm.family.patch_size


def test_gazed_vit_reproduces_stock_features(mllm, frames):
    """Every finest patch gazed, frame-independent attention: stock features and connector, within 1e-5."""
    tokens = gazed_tokens(full_gaze(mllm, frames))
    vision = mllm.gazed_vision(frames, tokens, "frame_independent")
    stock = stock_features(mllm, frames)
    T, n, d = stock.shape
    assert vision.features.shape == (T * n, d)
    assert (vision.features - stock.reshape(T * n, d)).abs().max() < 1e-5
    fam = mllm.family
    if fam.kind == "smolvlm":
        reference = fam.connector(stock).reshape(-1, vision.tokens.shape[-1])
        assert vision.per_frame == [n // fam.factor**2] * T
    else:  # LLaVA-OV projects per token; the stock pooling is skipped, the trailing newline kept
        reference = torch.cat([fam.projector(stock).reshape(T * n, -1), fam.newline()])
        assert vision.per_frame == [n] * T
    assert vision.tokens.shape == reference.shape
    assert (vision.tokens - reference).abs().max() < 1e-5


def test_gazed_vit_block_causal_sees_only_the_past(smol, frames):
    tokens = gazed_tokens(full_gaze(smol, frames))
    independent = smol.gazed_vision(frames, tokens, "frame_independent").features
    causal = smol.gazed_vision(frames, tokens, "block_causal").features
    both = smol.gazed_vision(frames, tokens, "bidirectional").features
    n = int(tokens.per_frame[0])
    assert (causal[:n] - independent[:n]).abs().max() < 1e-5  # frame 0 sees no other frame
    assert (causal[n:] - independent[n:]).abs().max() > 1e-3  # later frames see earlier ones
    assert (both[:n] - causal[:n]).abs().max() > 1e-3  # bidirectional: frame 0 sees the future


def test_gazed_vit_mask_is_one_shared_bool():
    frame = torch.tensor([0, 0, 1, 2, 2])
    causal = attention_mask(frame, "block_causal")
    assert causal.shape == (1, 1, 5, 5) and causal.dtype == torch.bool
    assert causal[0, 0, 2].tolist() == [True, True, True, False, False]
    assert attention_mask(frame, "frame_independent")[0, 0, 3].tolist() == [False, False, False, True, True]
    assert attention_mask(frame, "bidirectional") is None


def uneven_gaze(mllm, frames, counts=(30, 50, 30), seed=7) -> GazeResult:
    """A gaze with the given number of random slots per frame (unequal counts; 0 leaves a frame empty)."""
    rng = np.random.default_rng(seed)
    slots = [sorted(rng.choice(mllm.grid.num_slots, n, replace=False).tolist()) for n in counts[: len(frames)]]
    return GazeResult.from_frame_slots([slots], mllm.grid)


class CountingLayer(torch.nn.Module):
    """Wraps an encoder layer and records the shape and mask of every call."""

    def __init__(self, layer, calls: list):
        super().__init__()
        self.layer, self.calls = layer, calls

    def forward(self, hidden, mask):
        self.calls.append((tuple(hidden.shape), mask))
        return self.layer(hidden, mask)


@pytest.mark.parametrize("counts", [(30, 50, 30), (12, 0, 40), (25, 25, 25)])
def test_gazed_vit_frame_independent_equals_dense_mask(mllm, frames, counts):
    """Per-frame batches give the old dense (1,1,N,N) frame-independent mask's output, with no padding."""
    fam = mllm.family
    tokens = gazed_tokens(uneven_gaze(mllm, frames, counts))
    assert tokens.per_frame.tolist() == list(counts)
    pixels = fam.scale_pixels(frames, tokens.grid)
    embeddings = embed_slots(lambda side: fam.embed_scale(pixels[side]), tokens.grid)
    layers = fam.gazed_layers()
    with torch.inference_mode():
        T, S, d = embeddings.shape
        reference = embeddings.reshape(T * S, d)[tokens.frame * S + tokens.slot][None]
        mask = additive_mask(attention_mask(tokens.frame, "frame_independent"), reference.dtype)
        for layer in layers:
            reference = layer(reference, mask)
        calls = []
        out = encode_gazed(embeddings, tokens, [CountingLayer(layer, calls) for layer in layers], "frame_independent")
    assert out.shape == reference[0].shape
    assert (out - reference[0]).abs().max() < 1e-5
    distinct = sorted({n for n in counts if n > 0})
    assert len(calls) == len(layers) * len(distinct)  # one layer call per distinct per-frame count
    assert all(mask is None for _, mask in calls)
    assert sum(shape[0] * shape[1] for shape, _ in calls) == len(layers) * sum(counts)  # no padding


def test_gazed_vit_frame_independent_is_per_frame(smol, frames):
    """Changing one frame's pixels leaves the other frames' frame-independent features unchanged."""
    tokens = gazed_tokens(uneven_gaze(smol, frames))
    before = smol.gazed_vision(frames, tokens, "frame_independent").features
    changed = frames.copy()
    changed[1] = 255 - changed[1]
    after = smol.gazed_vision(changed, tokens, "frame_independent").features
    frame = tokens.frame
    assert (after[frame != 1] - before[frame != 1]).abs().max() < 1e-5
    assert (after[frame == 1] - before[frame == 1]).abs().max() > 1e-3


def test_gazed_vit_eager_matches_sdpa(folders, smol, frames):
    eager = load_mllm(str(folders["smolvlm"]), device=smol.device, attn_implementation="eager", dtype=torch.float32)
    gaze = load_gazer("random", grid=smol.grid, seed=1).gaze(frames, gazing_ratio=0.3)
    tokens = gazed_tokens(gaze)
    a = smol.gazed_vision(frames, tokens, "block_causal").tokens
    b = eager.gazed_vision(frames, tokens, "block_causal").tokens
    assert (a - b).abs().max() < 1e-4


# ---- token counts and the prompt --------------------------------------------------------------
def _groups_per_frame(gaze: GazeResult, factor: int) -> list[int]:
    """Connector tokens per frame, counted independently: distinct (scale, row // r, col // r)."""
    counts = []
    for t in range(gaze.num_frames):
        scale, row, col = gaze.grid.split_local(gaze.frame_slots(0, t))
        counts.append(len({(s, r // factor, c // factor) for s, r, c in zip(scale, row, col)}))
    return counts


def _placeholder_runs(ids: torch.Tensor, token_id: int) -> list[int]:
    runs, length = [], 0
    for tok in ids[0].tolist() + [-1]:
        if tok == token_id:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    return runs


def test_mllm_token_counts_match_placeholders(smol, llava, frames):
    gaze_s = load_gazer("random", grid=smol.grid, seed=3).gaze(frames, gazing_ratio=0.2)
    vision = smol.gazed_vision(frames, gazed_tokens(gaze_s))
    assert vision.per_frame == _groups_per_frame(gaze_s, smol.family.factor)
    assert vision.encoder_tokens == gaze_s.counts()[0].tolist()
    ids = smol.family.prompt_ids(QUESTION, vision.per_frame, fps=1.0)
    assert _placeholder_runs(ids, smol.family.placeholder_id) == vision.per_frame  # one run per frame

    gaze_l = load_gazer("random", grid=llava.grid, seed=4).gaze(frames, gazing_ratio=0.2)
    vision = llava.gazed_vision(frames, gazed_tokens(gaze_l))
    assert vision.per_frame == gaze_l.counts()[0].tolist()  # one LLM token per gazed patch
    ids = llava.family.prompt_ids(QUESTION, vision.per_frame, fps=1.0)
    assert _placeholder_runs(ids, llava.family.placeholder_id) == [sum(vision.per_frame) + 1]  # + newline


def test_mllm_stock_answer_equals_model_generate(mllm, frames):
    """The stock path (our prompt + splice + generate(inputs_embeds)) answers as the model's own forward does."""
    answer = mllm.answer(frames, QUESTION, max_new_tokens=6)
    fam = mllm.family
    ids = fam.prompt_ids(QUESTION, answer.llm_vision_tokens_per_frame, fps=fam.processing.fps)
    pixels = fam.pixels(frames, fam.stock_side)[None]
    key = "pixel_values" if fam.kind == "smolvlm" else "pixel_values_videos"
    with torch.inference_mode():
        out = mllm.model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, do_sample=False, **{key: pixels}
        )
    expected = mllm.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip()
    assert answer.text == expected
    assert answer.llm_prompt_tokens == ids.shape[1]


def test_mllm_answer_end_to_end_both_paths(mllm, frames):
    full = mllm.answer(frames, QUESTION, max_new_tokens=4)
    gazed = mllm.answer(frames, QUESTION, gazer="greedy", gazing_ratio=0.1, max_new_tokens=4)
    assert full.path == "full" and gazed.path == "gazed" and gazed.attention == "block_causal"
    assert isinstance(gazed.text, str) and 1 <= gazed.new_tokens <= 4
    assert gazed.vision_tokens < full.vision_tokens
    assert gazed.settings["gazer"] == "greedy" and gazed.seconds["gazer"] > 0
    for stage in ("preprocess", "vision_encoder", "connector", "llm_prefill", "llm_decode", "total"):
        assert gazed.seconds[stage] >= 0 and full.seconds[stage] >= 0
    table = comparison_table([full, gazed])
    assert "└ of which attention (inside vision_encoder)" in table and "seconds llm_decode" in table


def test_mllm_all_finest_gaze_answers_like_stock(mllm, frames):
    """Gazing ratio 1 on the finest scale with frame-independent attention is the stock path."""
    full = mllm.answer(frames, QUESTION, max_new_tokens=6)
    gazed = mllm.answer(frames, QUESTION, gaze=full_gaze(mllm, frames), attention="frame_independent", max_new_tokens=6)
    assert gazed.vision_tokens == full.vision_tokens
    if mllm.family.kind == "smolvlm":  # same prompt, same tokens: the same answer
        assert gazed.text == full.text and gazed.llm_prompt_tokens == full.llm_prompt_tokens


def test_mllm_single_scale_ablation(smol, frames):
    answer = smol.answer(frames, QUESTION, gazer="random", gazing_ratio=0.3, single_scale=True, max_new_tokens=2)
    assert answer.settings["grid"] == smol.single_scale_grid.describe()
    assert answer.vision_tokens == 3 * int(np.float32(0.3) * np.float32(196))


# ---- FLOPs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("gazed", [False, True])
def test_flops_measured_agree_with_analytic(mllm, frames, gazed):
    kwargs = {"gazer": "random", "gazing_ratio": 0.2} if gazed else {}
    answer = mllm.answer(frames, QUESTION, max_new_tokens=3, count_flops=True, **kwargs)
    for stage in ("vision_encoder", "vision_attention", "connector", "llm_prefill", "llm_decode"):
        measured, analytic = answer.measured_flops[stage], answer.flops[stage]
        assert measured > 0 or stage == "llm_decode" and answer.new_tokens == 1
        assert measured == pytest.approx(analytic, rel=0.03), stage


@pytest.mark.parametrize("gazed", [False, True])
def test_flops_estimate_from_config_alone(mllm, frames, gazed):
    """`estimate_flops(config, ...)` (no weights) gives the loaded model's analytic FLOPs."""
    gaze = load_gazer("random", grid=mllm.grid, seed=5).gaze(frames, gazing_ratio=0.2) if gazed else None
    answer = mllm.answer(frames, QUESTION, gaze=gaze, max_new_tokens=3)
    text = answer.llm_prompt_tokens - answer.llm_vision_tokens
    estimate = estimate_flops(
        mllm.model.config,
        len(frames),
        gaze,
        stock_side=mllm.family.stock_side,
        text_tokens=text,
        new_tokens=answer.new_tokens,
    )
    assert estimate == answer.flops


def test_flops_frame_independent_below_block_causal(mllm, frames):
    """Per-frame attention spends nothing on other frames' keys: fewer FLOPs, analytic and measured."""
    gaze = uneven_gaze(mllm, frames)
    causal = mllm.answer(frames, QUESTION, gaze=gaze, max_new_tokens=1, count_flops=True)
    independent = mllm.answer(
        frames, QUESTION, gaze=gaze, attention="frame_independent", max_new_tokens=1, count_flops=True
    )
    for flops in ("flops", "measured_flops"):
        c, i = getattr(causal, flops), getattr(independent, flops)
        assert i["vision_attention"] < c["vision_attention"], flops
        assert i["vision_encoder"] < c["vision_encoder"], flops
        assert c["vision_encoder"] - i["vision_encoder"] == pytest.approx(c["vision_attention"] - i["vision_attention"])
    for stage in ("vision_encoder", "vision_attention", "connector"):
        assert independent.measured_flops[stage] == pytest.approx(independent.flops[stage], rel=0.03), stage
    d, layers = mllm.model.config.vision_config.hidden_size, len(mllm.family.gazed_layers())
    assert independent.flops["vision_attention"] == layers * 4 * d * (30**2 + 50**2 + 30**2)
    assert causal.flops["vision_attention"] == layers * 4 * d * 110**2
    text = independent.llm_prompt_tokens - independent.llm_vision_tokens
    estimate = estimate_flops(
        mllm.model.config,
        len(frames),
        gaze,
        stock_side=mllm.family.stock_side,
        text_tokens=text,
        new_tokens=independent.new_tokens,
        attention="frame_independent",
    )
    assert estimate == independent.flops


def test_flops_gazed_below_full_at_low_ratio(mllm, frames):
    full = mllm.answer(frames, QUESTION, max_new_tokens=2)
    gazed = mllm.answer(frames, QUESTION, gazer="random", gazing_ratio=0.1, max_new_tokens=2)
    assert gazed.flops["vision_encoder"] < 0.3 * full.flops["vision_encoder"]
    assert gazed.flops["vision_attention"] < full.flops["vision_attention"]
    assert gazed.flops["total"] < full.flops["total"]
    assert attention_warning(full, gazed) is None


def test_flops_block_causal_at_high_ratio_can_exceed_full(smol, frames):
    """All 265 slots of 3 frames in one sequence: attention over 795 tokens beats 3 x 196^2 (reported)."""
    full = smol.answer(frames, QUESTION, max_new_tokens=1)
    gazed = smol.answer(frames, QUESTION, gazer="random", gazing_ratio=1.0, max_new_tokens=1)
    assert gazed.flops["vision_attention"] > full.flops["vision_attention"]
    assert "more than the stock" in attention_warning(full, gazed)


# ---- bad input ----------------------------------------------------------------------------------
def test_mllm_bad_input(smol, frames):
    default_grid_gaze = load_gazer("random").gaze(frames, gazing_ratio=0.1)  # 224 px at patch 16
    with pytest.raises(PlaygroundError, match="make it with mllm.gaze"):
        smol.answer(frames, QUESTION, gaze=default_grid_gaze)
    with pytest.raises(PlaygroundError, match="frames"):
        smol.answer(frames[:2], QUESTION, gaze=full_gaze(smol, frames))
    with pytest.raises(PlaygroundError, match="attention"):
        smol.answer(frames, QUESTION, gaze=full_gaze(smol, frames), attention="causal")
    with pytest.raises(PlaygroundError, match="question"):
        smol.answer(frames, "  ")
    with pytest.raises(PlaygroundError, match="uint8"):
        smol.answer(frames.astype(np.float32), QUESTION)
    with pytest.raises(PlaygroundError, match="one clip"):
        smol.answer(np.stack([frames, frames]), QUESTION)


def test_mllm_load_errors(tmp_path, monkeypatch):
    # Names are found by checkpoints.locate: a folder, or else an owner/name hub id.
    with pytest.raises(PlaygroundError, match="^cannot load MLLM '.*missing': no such checkpoint"):
        load_mllm(str(tmp_path / "missing"))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(PlaygroundError, match="is a file; give the model's folder"):
        load_mllm(str(tmp_path / "model.safetensors"))
    with pytest.raises(PlaygroundError, match="not a hub id like 'HuggingFaceTB/SmolVLM2-256M-Video-Instruct'"):
        load_mllm("smolvlm2-265m")  # a mistyped alias is no hub id: refused before asking the hub
    with pytest.raises(PlaygroundError, match="trust_remote_code=True"):
        load_mllm("nvidia/NVILA-8B-HD-Video")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PlaygroundError, match="HF_HUB_OFFLINE") as info:
        load_mllm("smolvlm2-256m")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("text_config", "hidden_size", 20000, "parameters"),
        ("text_config", "num_hidden_layers", 10**6, "num_hidden_layers"),
        ("vision_config", "intermediate_size", 10**9, "parameters"),
        ("text_config", "num_attention_heads", 0, "num_attention_heads"),
    ],
)
def test_mllm_absurd_config_sizes_fail_before_any_module_is_built(
    folders, tmp_path, monkeypatch, section, key, value, message
):
    import json
    import shutil
    import time

    from transformers import AutoModelForImageTextToText

    folder = tmp_path / "model"
    shutil.copytree(folders["smolvlm"], folder)
    config = json.loads((folder / "config.json").read_text())
    config[section][key] = value
    (folder / "config.json").write_text(json.dumps(config))
    built = []
    monkeypatch.setattr(AutoModelForImageTextToText, "from_pretrained", lambda *a, **k: built.append(a) or 1 / 0)
    start = time.perf_counter()
    with pytest.raises(PlaygroundError, match=message) as info:
        load_mllm(str(folder), device="cpu")
    assert time.perf_counter() - start < 3 and "\n" not in str(info.value)
    assert not built, "the model was built before its config was checked against the weights"


@pytest.mark.parametrize("name", ["config.json", "tokenizer.json", "model.safetensors"])
def test_mllm_links_out_of_the_model_folder_are_refused(folders, tmp_path, name):
    import shutil

    folder, outside = tmp_path / "model", tmp_path / "elsewhere"
    shutil.copytree(folders["smolvlm"], folder)
    outside.mkdir()
    shutil.move(folder / name, outside / name)
    (folder / name).symlink_to(outside / name)
    with pytest.raises(PlaygroundError, match="outside the checkpoint folder") as info:
        load_mllm(str(folder), device="cpu")
    assert name in str(info.value) and "\n" not in str(info.value)


def test_mllm_remote_code_is_refused_without_consent(remote_code_folder, monkeypatch):
    """A folder whose config.json has an auto_map: no prompt (stdin says "y"), no code run, one line."""
    import io

    folder, marker = remote_code_folder
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    with pytest.raises(PlaygroundError, match="trust_remote_code") as info:
        load_mllm(str(folder))
    assert "\n" not in str(info.value)
    assert not marker.exists(), "the folder's Python code ran without trust_remote_code=True"


@pytest.mark.parametrize("offline", [True, False])
def test_mllm_uncached_hub_id_fails_at_once_naming_the_mllm(tmp_path, monkeypatch, offline):
    """Offline, or with a hub that cannot be reached, the MLLM fails as fast as the gazer: no retries."""
    import time

    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:  # nothing listens on port 9: every request is refused at once, and would be retried
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    start = time.perf_counter()
    with pytest.raises(PlaygroundError) as info:
        load_mllm("someone/not-cached-mllm", device="cpu")
    assert time.perf_counter() - start < 3
    message = str(info.value)
    assert message.startswith("cannot load MLLM 'someone/not-cached-mllm'") and "\n" not in message
    assert "not in the local Hugging Face cache" in message
    if offline:
        assert "set HF_HUB_OFFLINE=1" not in message


def test_mllm_gazer_errors_name_the_gazer(smol, frames, tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PlaygroundError, match="^cannot load gazer 'someone/not-cached-gazer': "):
        smol.answer(frames, QUESTION, gazer="someone/not-cached-gazer", max_new_tokens=1)


def test_tiny_random_smolvlm2_is_built_in_and_needs_no_network(smol, frames, monkeypatch):
    """Built in code, it equals the saved tiny SmolVLM2 folder (same seed): same processing, same answers."""
    import socket

    import huggingface_hub.constants as constants

    def no_network(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tiny = load_mllm("tiny-random-smolvlm2", device=smol.device, dtype=torch.float32)
    assert (
        tiny.name == "tiny-random-smolvlm2"
        and tiny.note == "random weights: shows the mechanics and costs, not answers"
    )
    assert tiny.family.processing == smol.family.processing and tiny.grid == smol.grid
    a, b = tiny.answer(frames, QUESTION, max_new_tokens=3), smol.answer(frames, QUESTION, max_new_tokens=3)
    assert a.text == b.text and a.llm_prompt_tokens == b.llm_prompt_tokens and a.flops == b.flops


def test_mllm_hub_id_from_the_offline_cache(folders, tmp_path, monkeypatch):
    import shutil

    import huggingface_hub.constants as constants

    repo = tmp_path / "models--someone--TinySmol"
    shutil.copytree(folders["smolvlm"], repo / "snapshots" / ("2" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("2" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    mllm = load_mllm("someone/TinySmol", device="cpu")
    assert mllm.name == "someone/TinySmol" and mllm.family.kind == "smolvlm"


def test_mllm_load_refuses_other_architectures(tmp_path):
    from transformers import GPT2Config

    GPT2Config(n_layer=1, n_embd=8, n_head=2).save_pretrained(tmp_path)
    with pytest.raises(PlaygroundError, match="not supported"):
        load_mllm(str(tmp_path))


def test_nvila_processor_is_told_the_moved_gazer_id(monkeypatch):
    """NVILA's processor defaults to bfshi/AutoGaze, which the hub answers with 404: the id it gets is the new one."""
    import torch
    import transformers

    from playground.mllm.nvila import load_nvila

    seen = {}

    def from_pretrained(name, **kwargs):
        seen.update(kwargs)
        raise OSError("offline")  # stop before any model is built

    monkeypatch.setattr(transformers.AutoProcessor, "from_pretrained", from_pretrained)
    with pytest.raises(PlaygroundError, match="cannot load"):
        load_nvila("nvidia/NVILA-8B-HD-Video", torch.device("cpu"), trust_remote_code=True)
    assert seen["autogaze_model_id"] == "nvidia/AutoGaze" and seen["trust_remote_code"] is True


# ---- the gazer's FLOPs (issue item 6), the table's rows (7), random weights' text (9) ------------
AUTOGAZE_FIXTURE = Path(__file__).parent / "fixtures" / "autogaze" / "tiny_seed0"


def _counted_gaze(gazer, frames, **kwargs):
    """(gaze, FlopCounterMode's total) of one gazing call, SDPA counted as everywhere (`StageCounter`)."""
    counter = StageCounter(torch.device("cpu"), True)
    with counter:
        gaze = gazer.gaze(frames, **kwargs)
    return gaze, counter.flops


@pytest.mark.parametrize(
    "clip_len, kwargs",
    [
        (None, dict(gazing_ratio=0.1)),  # budget-driven: 3 calls a frame, no look-ahead
        (None, dict(gazing_ratio=0.151)),  # 40 gazes: the last step is full, so a look-ahead call
        (2, dict(gazing_ratio=0.3, task_loss_requirement=0.5)),  # threshold stops, caches restarted every 2 frames
        (None, dict(gazing_ratio=0.2, target_scales=[64, 128, 224, 448], target_patch_size=16)),  # 2x2 tiles
    ],
)
def test_autogaze_flops_analytic_equal_flop_counter(clip_len, kwargs):
    """AutoGaze's analytic FLOPs (config + the gaze's decoding record) equal FlopCounterMode's exactly."""
    gazer = load_gazer(str(AUTOGAZE_FIXTURE), device="cpu", clip_len=clip_len)
    frames = np.random.default_rng(1).integers(0, 256, (5, 48, 64, 3), dtype=np.uint8)
    gaze, counted = _counted_gaze(gazer, frames, **kwargs)
    assert counted > 0 and autogaze_gaze_flops(gazer.net.cfg, gaze) == counted
    emitted, calls = zip(*gaze.settings["decoder_steps"])
    assert sum(calls) == gaze.settings["decoder_calls"]
    if kwargs["gazing_ratio"] == 0.151:
        assert all(c == -(-e // 10) + 1 for e, c in zip(emitted, calls))  # the look-ahead was counted


def test_autogaze_flops_of_the_full_size_model_match_the_documented_figure():
    """docs/autogaze.md: one clip of 16 frames at ratio 0.1 is 31.1 GFLOP (FlopCounterMode on the full-size model);
    8 clips 249.2; ratio 1.0 (27 calls a frame, 432 in all) 90.1."""
    from playground.models.autogaze import AutoGazeConfig

    cfg = AutoGazeConfig()  # the released architecture
    assert round(autogaze_flops(cfg, 1, [[26, 3]] * 16, 16) / 1e9, 1) == 31.1
    assert round(autogaze_flops(cfg, 8, [[26, 3]] * 16, 16) / 1e9, 1) == 249.2
    assert round(autogaze_flops(cfg, 1, [[265, 27]] * 16, 16) / 1e9, 1) == 90.1


def test_element_op_counter_counts_what_ran():
    """One per element written or read (the larger), nothing for views."""
    x = torch.ones(10, 20)
    with ElementOpCounter() as counter:
        y = x.view(20, 10).t()  # views: 0
        z = x + 1  # 200 written
        s = z.sum()  # 200 read
        x.abs_()  # in place: 200
    assert counter.ops == 600 and y.shape == (10, 20) and float(s) == 400


@pytest.mark.parametrize("name", ["framediff", "random", "full", "greedy"])
def test_training_free_gazer_flops_are_measured_and_in_the_total(smol, frames, name):
    """Never 0 or blank when a gazer ran: its measured operations are the 'gazer' row and in the total."""
    gazed = smol.answer(frames, QUESTION, gazer=name, gazing_ratio=0.1, max_new_tokens=2, count_flops=True)
    again, ops = measured_gazer_ops(lambda: smol.gaze(frames, name, 0.1))
    assert gazed.flops["gazer"] == ops > again.num_gazed  # more than the ids it wrote: it read the frames
    assert gazed.settings["gazer_flops"] == MEASURED and gazed.measured_flops["gazer"] == ops
    for flops in (gazed.flops, gazed.measured_flops):
        assert flops["total"] == sum(v for k, v in flops.items() if k not in ("vision_attention", "total"))
    assert "measured ops" in comparison_table([gazed])
    assert (
        smol.answer(frames, QUESTION, gazer=name, gazing_ratio=0.1, max_new_tokens=2, count_gazer_flops=False).flops[
            "gazer"
        ]
        is None
    )


def test_autogaze_flops_in_an_answer_are_analytic_and_equal_flop_counter(smol, frames):
    """A retargeted AutoGaze in `answer`: its analytic FLOPs are what FlopCounterMode counts gazing the same frames."""
    gazed = smol.answer(frames, QUESTION, gazer=str(AUTOGAZE_FIXTURE), gazing_ratio=0.2, max_new_tokens=2)
    gazer = smol.gazer(str(AUTOGAZE_FIXTURE))
    counter = StageCounter(torch.device("cpu"), True)
    with counter:
        smol.gaze(frames, gazer, 0.2)
    assert gazed.settings["gazer_flops"] == ANALYTIC and gazed.flops["gazer"] == counter.flops > 0
    assert gazed.flops["total"] > gazed.flops["gazer"] + gazed.flops["llm_prefill"]


def test_comparison_table_shows_attention_inside_the_encoder(smol, frames):
    """Item 7: the attention row is labelled as part of vision_encoder, and the total adds each stage once."""
    gazed = smol.answer(frames, QUESTION, gazer="framediff", gazing_ratio=0.1, max_new_tokens=2)
    lines = comparison_table([gazed]).splitlines()
    encoder = next(i for i, line in enumerate(lines) if line.startswith(FLOP_LABELS["vision_encoder"]))
    assert lines[encoder + 1].startswith("  └ of which attention (inside vision_encoder)")
    f = gazed.flops
    assert f["total"] == f["gazer"] + f["vision_encoder"] + f["connector"] + f["llm_prefill"] + f["llm_decode"]
    note = token_note(smol.answer(frames, QUESTION, max_new_tokens=2), gazed)
    assert "fewer" in note and "group" in note  # why the LLM's tokens fall less than the encoder's


def test_display_text_escapes_noise_and_labels_random_weights():
    """Item 9: control, format and replacement characters are escaped; newlines stay; random weights labelled."""
    text = "a\x07b\ufffdc\u200bd\x00\né 日本"
    shown = display_text(text)
    assert shown == "a\\x07b\\ufffdc\\u200bd\\x00\né 日本"
    assert all(ch == "\n" or ch.isprintable() for ch in shown)
    assert display_text("ok", random_weights=True) == "[random weights, not a real answer] ok"
