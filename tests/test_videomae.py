"""VideoMAE_AutoGaze: reference vectors, safe strict loading, bad input, clips, and the oracle gazer.

The tiny reference set (tests/fixtures/videomae, see its README) is the reference implementation's
output on the synthetic video: weights in the published `module.mae.*` layout, the gazing, and
the logits, reconstruction and every loss term. Other tests use an even smaller random model on a
2-scale grid so that they stay fast.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from playground import GazeResult, PlaygroundError, load_gazer, load_reconstructor
from playground.geometry import MultiScaleGrid, grid_for
from playground.models.videomae_model import VideoMAEAutoGaze, patchify
from playground.reconstructors.videomae import VideoMAEReconstructor, convert_checkpoint, load_videomae, task_frames
from playground.reconstructors.videomae.loading import TINY_CONFIG

FIX = Path(__file__).resolve().parent / "fixtures" / "videomae"
WEIGHTS = FIX / "task_state_dict.safetensors"
CONFIG = FIX / "config_and_results.json"
REF_FRAMES = [0, 5, 15]
MICRO = TINY_CONFIG  # a random model on a 2-scale grid (20 slots per frame, 64 px canvas): every code path, tiny cost


@pytest.fixture(scope="module")
def expected() -> dict[str, torch.Tensor]:
    return load_file(str(FIX / "expected_io.safetensors"))


@pytest.fixture(scope="module")
def ref_gaze(expected) -> dict[str, torch.Tensor]:
    return {k: expected[k] for k in ("gazing_pos", "if_padded_gazing", "num_gazing_each_frame")}


@pytest.fixture(scope="module")
def tiny(device) -> VideoMAEReconstructor:
    return load_videomae(str(WEIGHTS), device=device, config=str(CONFIG), rebuild="together")


@pytest.fixture(scope="module")
def micro(device) -> VideoMAEReconstructor:
    # `separate`: what the oracle measures (each frame rebuilt alone), so its traces equal `measure`
    return VideoMAEReconstructor.random(MICRO, seed=0, device=device, clip_len=8, rebuild="separate")


def micro_video(num_frames: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (num_frames, 64, 64, 3), dtype=np.uint8)


# ---- reference vectors -------------------------------------------------------------------------
def test_reproduces_reference_vectors(tiny, expected, ref_gaze, synthetic_clip):
    assert expected["frame_idx_to_reconstruct"].tolist() == REF_FRAMES
    rec = tiny.reconstruct(synthetic_clip, ref_gaze, frames=REF_FRAMES)
    assert rec.frames.shape == (1, 3, 224, 224, 3) and rec.frames.dtype == torch.uint8
    assert torch.allclose(rec.loss, expected["loss_each_reconstruction_frame"], atol=1e-4, rtol=0)
    # Tighter than 1e-4 where the values allow: an un-antialiased DINOv2 position resize is off by 5e-5.
    assert torch.allclose(rec.terms["l1"][0], expected["loss_l1"], atol=1e-5, rtol=0)
    assert torch.allclose(rec.terms["dinov2"][0], expected["loss_dinov2_reg"], atol=1e-5, rtol=0)
    assert torch.allclose(rec.terms["siglip2"][0], expected["loss_siglip2"], atol=1e-4, rtol=0)
    assert torch.allclose(rec.normalized[:, :1], expected["reconstruction_frame0"], atol=1e-5, rtol=0)
    assert torch.isfinite(rec.psnr).all() and ((rec.ssim > -1) & (rec.ssim <= 1)).all()
    # 1*L1 + 0.3*DINOv2 + 0.3*SigLIP2 is the loss.
    total = rec.terms["l1"] + 0.3 * rec.terms["dinov2"] + 0.3 * rec.terms["siglip2"]
    assert torch.allclose(rec.loss, total, atol=1e-5)


def test_reproduces_reference_logits(tiny, expected, ref_gaze, synthetic_clip):
    gaze = GazeResult.from_official(ref_gaze)
    pixels = tiny.preprocess(synthetic_clip[None])
    with torch.inference_mode():
        out = tiny.rebuild_clip(pixels, *tiny.clip_gaze(gaze, 0, 16), REF_FRAMES)
    assert torch.allclose(out["logits"].cpu(), expected["logits"], atol=1e-5, rtol=0)
    # The logits are the reconstruction in the reference's (p, q, c) patch order.
    assert torch.equal(patchify(out["pred"], 16), out["logits"])


def test_separate_rebuild_does_not_depend_on_the_other_frames(tiny, expected, ref_gaze, synthetic_clip):
    separate = VideoMAEReconstructor(tiny.model, tiny.device, rebuild="separate")
    many = separate.reconstruct(synthetic_clip, ref_gaze, frames=REF_FRAMES)
    one = separate.reconstruct(synthetic_clip, ref_gaze, frames=[5])
    assert torch.allclose(many.loss[:, 1], one.loss[:, 0], atol=1e-5)
    # ...which is the reference's single pass asked for that frame alone.
    assert torch.allclose(tiny.reconstruct(synthetic_clip, ref_gaze, frames=[5]).loss, one.loss, atol=1e-5)
    # Frame 0 sees no earlier frame, so both modes give the reference's numbers.
    assert torch.allclose(many.loss[0, 0], expected["loss_each_reconstruction_frame"][0, 0], atol=1e-4)
    # Together, frame 5 also sees frame 0's decoded mask tokens: a different (reference) number.
    assert not torch.allclose(many.loss[:, 1], expected["loss_each_reconstruction_frame"][:, 1], atol=1e-4)


def test_default_rebuild_is_the_reference(device, expected, ref_gaze, synthetic_clip):
    default = load_videomae(str(WEIGHTS), device=device, config=str(CONFIG))  # no rebuild= given
    assert default.rebuild == "together"
    rec = default.reconstruct(synthetic_clip, ref_gaze, frames=REF_FRAMES)
    assert torch.allclose(rec.loss, expected["loss_each_reconstruction_frame"], atol=1e-4)
    oracle = load_gazer("oracle", reconstructor=str(WEIGHTS), config=str(CONFIG), device=device)
    assert oracle.reconstructor.rebuild == "separate"  # the oracle scores each frame alone


# ---- loading -----------------------------------------------------------------------------------
def _published_pickle(folder: Path, state: dict[str, torch.Tensor] | None = None) -> Path:
    """Write a `videomae.pt` as the trainer does (torch.save of the DDP state dict) plus the config."""
    folder.mkdir(parents=True, exist_ok=True)
    state = load_file(str(WEIGHTS)) if state is None else state
    assert all(k.startswith("module.mae.") for k in state)
    torch.save(state, folder / "videomae.pt")
    shutil.copy(CONFIG, folder / CONFIG.name)
    return folder / "videomae.pt"


def test_loads_the_published_pickle_layout(tmp_path, tiny, ref_gaze, synthetic_clip, device):
    _published_pickle(tmp_path / "ckpt")
    from_folder = load_reconstructor(str(tmp_path / "ckpt"), device=device, rebuild="together")
    a = from_folder.reconstruct(synthetic_clip, ref_gaze, frames=REF_FRAMES)
    b = tiny.reconstruct(synthetic_clip, ref_gaze, frames=REF_FRAMES)
    assert torch.equal(a.loss, b.loss) and torch.equal(a.frames, b.frames)


def test_any_float_dtype_loads(tmp_path, tiny, ref_gaze, synthetic_clip, device):
    state = {k: v.to(torch.bfloat16) for k, v in load_file(str(WEIGHTS)).items()}
    pt = _published_pickle(tmp_path / "bf16", state)
    rec = load_videomae(str(pt), device=device, rebuild="together")
    assert all(p.dtype == torch.float32 for p in rec.model.parameters())
    loss = rec.reconstruct(synthetic_clip, ref_gaze, frames=[0]).loss
    assert torch.allclose(loss, tiny.reconstruct(synthetic_clip, ref_gaze, frames=[0]).loss, rtol=0.05)


def test_convert_to_safetensors(tmp_path, tiny, ref_gaze, synthetic_clip, device, capsys):
    from playground.cli import main

    pt = _published_pickle(tmp_path / "ckpt")
    dst = tmp_path / "converted" / "videomae.safetensors"
    assert main(["convert-videomae", str(pt), str(dst)]) == 0
    assert "wrote" in capsys.readouterr().out
    original, converted = torch.load(pt, weights_only=True), load_file(str(dst))
    assert original.keys() == converted.keys() and all(torch.equal(original[k], converted[k]) for k in original)
    rec = load_videomae(str(dst), device=device, config=json.loads(CONFIG.read_text()), rebuild="together")
    assert torch.equal(
        rec.reconstruct(synthetic_clip, ref_gaze, frames=[15]).loss,
        tiny.reconstruct(synthetic_clip, ref_gaze, frames=[15]).loss,
    )
    half = convert_checkpoint(pt, tmp_path / "half.safetensors", dtype="bfloat16")
    assert all(v.dtype == torch.bfloat16 for v in load_file(str(half)).values())
    with pytest.raises(PlaygroundError, match="safetensors"):
        convert_checkpoint(pt, tmp_path / "out.pt")


def _one_line_error(fn, match: str) -> str:
    with pytest.raises(PlaygroundError, match=match) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_strict_key_check_names_keys(tmp_path):
    state = load_file(str(WEIGHTS))

    def load(s: dict, name: str):
        path = tmp_path / f"{name}.safetensors"
        save_file(s, str(path))
        return lambda: load_videomae(str(path), device="cpu", config=str(CONFIG))

    missing = {k: v for k, v in state.items() if k != "module.mae.decoder.mask_token"}
    msg = _one_line_error(load(missing, "missing"), "1 missing keys")
    assert "decoder.mask_token" in msg
    extra = dict(state, **{"module.mae.vit.encoder.layer.7.output.dense.weight": torch.zeros(2, 2)})
    msg = _one_line_error(load(extra, "extra"), "1 unexpected keys")
    assert "vit.encoder.layer.7.output.dense.weight" in msg
    wrong = dict(state, **{"module.mae.decoder.mask_token": torch.zeros(1, 1, 33)})
    _one_line_error(load(wrong, "shape"), r"decoder.mask_token has shape \(1, 1, 33\)")
    ints = dict(state, **{"module.mae.decoder.mask_token": torch.zeros(1, 1, 32, dtype=torch.int32)})
    _one_line_error(load(ints, "ints"), "not a float tensor")
    # Without its config beside it, the tiny checkpoint does not fit the default (vit-mae-large) architecture.
    alone = tmp_path / "alone" / WEIGHTS.name
    alone.parent.mkdir()
    shutil.copy(WEIGHTS, alone)
    _one_line_error(lambda: load_videomae(str(alone), device="cpu"), "missing keys")


class _Payload:
    """Unpickling this would create a file: a stand-in for arbitrary code in a malicious checkpoint."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_with_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"module.mae.vit.layernorm.weight": torch.ones(2), "x": _Payload(marker)}, tmp_path / "bad.pt")
    _one_line_error(lambda: load_videomae(str(tmp_path / "bad.pt"), device="cpu"), "weights_only=True")
    assert not marker.exists()


@pytest.mark.parametrize("layout", ["torch.save", "legacy torch.save", "plain pickle", "not a pickle"])
def test_pickle_refusal_is_whole_sentences_and_quiet(tmp_path, layout, recwarn, capfd):
    """The refusal ends at a sentence (no cut mid-word, no terminal colour codes) and torch warns nothing."""
    import pickle

    marker, path = tmp_path / "pwned", tmp_path / "bad.pt"
    payload = {"module.mae.vit.layernorm.weight": torch.ones(2), "x": _Payload(marker)}
    if layout == "plain pickle":
        path.write_bytes(pickle.dumps(payload, protocol=4))
    elif layout == "not a pickle":
        path.write_bytes(b"not a checkpoint at all " * 20)
    else:
        torch.save(payload, path, _use_new_zipfile_serialization=layout == "torch.save")
    message = _one_line_error(lambda: load_videomae(str(path), device="cpu"), "weights_only=True")
    assert message.endswith(".") and "\x1b" not in message and len(message) < 400, message
    assert "weights_only` set to `False`" not in message  # never the advice to turn the check off
    assert not marker.exists()
    assert [str(w.message) for w in recwarn if issubclass(w.category, UserWarning)] == []
    assert "Warning" not in capfd.readouterr().err


def test_missing_sources_fail_in_one_line(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    msg = _one_line_error(
        lambda: load_reconstructor("bfshi/VideoMAE_AutoGaze", device="cpu", cache_dir=str(tmp_path)),
        "bfshi/VideoMAE_AutoGaze",
    )
    assert "offline" in msg
    _one_line_error(lambda: load_reconstructor(str(tmp_path / "nope.pt"), device="cpu"), "no such checkpoint")
    (tmp_path / "empty").mkdir()
    _one_line_error(lambda: load_reconstructor(str(tmp_path / "empty"), device="cpu"), "no reconstructor family reads")
    _one_line_error(lambda: load_videomae(str(tmp_path / "empty"), device="cpu"), "no .safetensors or .pt")
    _one_line_error(lambda: load_videomae(str(WEIGHTS), config={"vit_mae_config": {"loss_type": "l2"}}), "loss_type")


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("vit_mae_config", "num_hidden_layers", 10**6, "num_hidden_layers"),
        ("siglip_vision_config", "num_hidden_layers", 10**6, "num_hidden_layers"),
        ("vit_mae_config", "hidden_size", 4 * 10**9, "hidden_size|do not fit"),
        ("vit_mae_config", "hidden_size", 20000, "shape"),
        ("vit_mae_config", "num_attention_heads", 0, "num_attention_heads"),
        ("dinov2_with_registers_config", "mlp_ratio", -1, "mlp_ratio"),
    ],
)
def test_absurd_config_sizes_fail_at_once(tmp_path, section, key, value, message):
    """Checked before a module is built: for a checkpoint and for random weights (which would allocate them)."""
    import time

    config = json.loads(CONFIG.read_text())
    config[section][key] = value
    start = time.perf_counter()
    _one_line_error(lambda: load_videomae(str(WEIGHTS), device="cpu", config=config), message)
    if message != "shape":  # random weights have no checkpoint shapes to disagree with; their size is capped
        _one_line_error(lambda: VideoMAEReconstructor.random(config), message)
    assert time.perf_counter() - start < 5


def test_random_weights_refuse_models_too_big_to_allocate():
    config = json.loads(CONFIG.read_text())
    config["vit_mae_config"].update(hidden_size=65536, intermediate_size=65536)
    _one_line_error(lambda: VideoMAEReconstructor.random(config), "parameters")


@pytest.mark.parametrize("linked", ["weights", "config"])
def test_links_out_of_the_checkpoint_folder_are_refused(tmp_path, linked):
    folder, outside = tmp_path / "ckpt", tmp_path / "elsewhere"
    folder.mkdir()
    outside.mkdir()
    shutil.copy(WEIGHTS, (outside if linked == "weights" else folder) / WEIGHTS.name)
    shutil.copy(CONFIG, (outside if linked == "config" else folder) / CONFIG.name)
    name = WEIGHTS.name if linked == "weights" else CONFIG.name
    (folder / name).symlink_to(outside / name)
    message = _one_line_error(lambda: load_videomae(str(folder), device="cpu"), "outside the checkpoint folder")
    assert name in message
    if linked == "config":  # a weights file named directly may live anywhere; the config beside it may not
        _one_line_error(lambda: load_videomae(str(folder / WEIGHTS.name), device="cpu"), CONFIG.name)
    else:
        assert load_videomae(str(folder / WEIGHTS.name), device="cpu").model.config.mae.hidden_size == 64


def test_published_config_yaml_sets_losses_and_scales(tmp_path):
    from playground.reconstructors.videomae import config_from_yaml

    yaml_file = tmp_path / "config.yaml"
    yaml_file.write_text(
        "task:\n  recon_model: facebook/vit-mae-large\n  scales: 32+64+112+224\n"
        "  recon_model_config:\n    max_num_frames: 256\n    loss_type: l1+siglip2\n"
        "    loss_weights: 1+0.5\n    siglip2_loss_config:\n      model: google/siglip2-base-patch16-224\n"
    )
    config = config_from_yaml(yaml_file)
    assert config.mae.loss_list == ["l1", "siglip2"] and config.mae.weight_list == [1.0, 0.5]
    assert config.mae.hidden_size == 1024 and config.mae.scale_list == [32, 64, 112, 224]
    yaml_file.write_text("task:\n  recon_model: facebook/vit-mae-base\n")
    _one_line_error(lambda: config_from_yaml(yaml_file), "vit-mae-base")


def test_default_architecture_is_the_published_one():
    published = json.loads((FIX / "videomae_pt_keys_shapes.json").read_text())
    assert len(published) == 962
    with torch.device("meta"):
        model = VideoMAEAutoGaze()
    ours = {"module.mae." + k: list(v.shape) for k, v in model.state_dict().items()}
    head = {k for k in published if k.startswith("module.mae.siglip2.vision_model.head.")}
    assert ours == {k: v for k, v in published.items() if k not in head}
    assert model.unused_key_prefixes() == ("siglip2.vision_model.head.",) and len(head) == 11


# ---- bad input ---------------------------------------------------------------------------------
def test_bad_gaze_is_a_one_line_error(tiny, ref_gaze, synthetic_clip):
    video = synthetic_clip
    _one_line_error(lambda: tiny.reconstruct(video[:15], ref_gaze), "16 frames but the video has 15")
    shifted = dict(ref_gaze, gazing_pos=ref_gaze["gazing_pos"].clone())
    shifted["gazing_pos"][0, 0] += 265  # frame 0's first entry names a slot of frame 1
    _one_line_error(lambda: tiny.reconstruct(video, shifted), "not a slot of its frame 0")
    twice = dict(ref_gaze, gazing_pos=ref_gaze["gazing_pos"].clone())
    twice["gazing_pos"][0, 1] = twice["gazing_pos"][0, 0]
    _one_line_error(lambda: tiny.reconstruct(video, twice), "more than once")
    other_grid = GazeResult.from_frame_slots([[[0]] * 16], grid_for([64, 128, 224, 448], 16))
    _one_line_error(lambda: tiny.reconstruct(video, other_grid), "this reconstructor expects")
    _one_line_error(lambda: tiny.reconstruct(video, ref_gaze, frames=[16]), "frames to rebuild")
    _one_line_error(lambda: VideoMAEReconstructor(tiny.model, "cpu", rebuild="sometimes"), "rebuild")
    _one_line_error(lambda: VideoMAEReconstructor(tiny.model, "cpu", loss_terms=["lpips"]), "loss term")


# ---- clips, batches, preprocessing ---------------------------------------------------------------
def test_long_videos_go_by_clips_and_batches_are_independent(micro):
    assert micro.grid == MultiScaleGrid((32, 64), 16)
    video = micro_video(11)
    gaze = load_gazer("random", grid=micro.grid, seed=1).gaze(video, gazing_ratio=0.3)
    whole = micro.reconstruct(video, gaze)
    assert whole.loss.shape == (1, 11) and set(whole.terms) == {"l1", "dinov2", "siglip2"}
    second = GazeResult.from_frame_slots([[gaze.frame_slots(0, t).tolist() for t in range(8, 11)]], micro.grid)
    alone = micro.reconstruct(video[8:], second)  # the second 8-frame clip on its own
    assert torch.allclose(whole.loss[:, 8:], alone.loss, atol=1e-5)
    assert torch.equal(whole.frames[:, 8:], alone.frames)
    flipped = np.ascontiguousarray(video[:, :, ::-1])
    both = micro.reconstruct(
        np.stack([video, flipped]),
        GazeResult.from_frame_slots([[gaze.frame_slots(0, t).tolist() for t in range(11)]] * 2, micro.grid),
    )
    assert torch.allclose(both.loss[0], whole.loss[0], atol=1e-5)
    assert not torch.allclose(both.loss[1], whole.loss[0], atol=1e-5)
    l1_only = VideoMAEReconstructor(micro.model, micro.device, clip_len=8, loss_terms=["l1"], rebuild="separate")
    assert torch.allclose(l1_only.reconstruct(video, gaze).loss, whole.terms["l1"], atol=1e-6)


def test_shared_prefix_decoding_equals_one_pass_per_frame(micro):
    # Two clips with different per-frame counts, so the batch layout has pads in the shared prefix.
    video = np.stack([micro_video(6, seed=6), micro_video(6, seed=7)])
    rng = np.random.default_rng(8)
    slots = [[rng.choice(20, size=int(rng.integers(1, 6)), replace=False).tolist() for _ in range(6)] for _ in range(2)]
    gaze = GazeResult.from_frame_slots(slots, micro.grid)
    assert bool(gaze.if_padded_gazing.any())
    pixels = micro.preprocess(video)
    pos, pad, counts = micro.clip_gaze(gaze, 0, 6)
    model, frames = micro.model, [4, 1, 5]
    with torch.inference_mode():
        tokens = model.embed(pixels)
        shared = model.reconstruct_logits(tokens, pos, pad, counts, frames, together=False)
        one_by_one = torch.cat([model.reconstruct_logits(tokens, pos, pad, counts, [f]) for f in frames], dim=1)
        together = model.reconstruct_logits(tokens, pos, pad, counts, frames)
    assert torch.allclose(shared, one_by_one, atol=1e-5)
    assert not torch.allclose(together[:, 0], one_by_one[:, 0], atol=1e-5)  # frame 4 also saw frame 1 decoded


def test_crop_preprocessing_matches_the_reference_processor():
    from transformers import VivitImageProcessor

    frames = np.random.default_rng(0).integers(0, 256, (1, 2, 90, 150, 3), dtype=np.uint8)
    processor = VivitImageProcessor(
        size={"shortest_edge": 64},
        crop_size={"height": 64, "width": 64},
        resample=3,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )
    ref = processor(list(frames[0]), return_tensors="pt")["pixel_values"]
    ours = task_frames(frames, 64, "crop")
    assert ours.shape == (1, 2, 3, 64, 64)
    assert torch.allclose(ours, ref.reshape(ours.shape), atol=1e-5)
    assert task_frames(frames, 64, "squash").shape == (1, 2, 3, 64, 64)


# ---- the oracle gazer --------------------------------------------------------------------------
def test_oracle_measures_the_reconstructor_loss(micro):
    video = micro_video(3, seed=2)
    oracle = load_gazer("oracle", reconstructor=micro, candidate_batch=8)
    gaze = oracle.gaze(video, gazing_ratio=3 / 20)
    assert gaze.loss_kind == "measured" and gaze.gazer == "oracle"
    assert gaze.counts().tolist() == [[3, 3, 3]]
    # Its per-frame loss is what the reconstructor measures for the gaze it chose...
    assert torch.allclose(gaze.frame_loss, micro.measure(video, gaze).frame_loss, atol=1e-5)
    # ...the loss trace is the loss after each gaze, and it only goes down.
    for t in range(3):
        trace = gaze.frame_values(gaze.loss, 0, t)
        assert float(trace[-1]) == pytest.approx(float(gaze.frame_loss[0, t]), abs=1e-6)
        assert (trace[1:] <= trace[:-1]).all()
    # The batched VideoMAE path and plain `reconstruct` calls agree.
    slow = load_gazer("oracle", reconstructor=micro, batched=False).gaze(video[:2], gazing_ratio=2 / 20)
    fast = oracle.gaze(video[:2], gazing_ratio=2 / 20)
    assert torch.equal(slow.gazing_pos, fast.gazing_pos)
    assert torch.allclose(slow.frame_loss, fast.frame_loss, atol=1e-5)


def test_oracle_first_pick_is_the_best_single_slot(micro):
    video = micro_video(1, seed=3)
    first = load_gazer("oracle", reconstructor=micro).gaze(video, gazing_ratio=1 / 20)
    singles = [
        float(micro.reconstruct(video, GazeResult.from_frame_slots([[[s]]], micro.grid)).loss) for s in range(20)
    ]
    assert float(first.frame_loss) == pytest.approx(min(singles), abs=1e-5)
    assert first.frame_slots(0, 0).tolist() == [int(np.argmin(singles))]


@pytest.mark.slow
def test_oracle_on_the_reference_model_picks_the_best_of_265(tiny, synthetic_clip):
    # `pytest -m slow`: 265 single-slot rebuilds with the full loss on the 4-scale grid.
    video = synthetic_clip[:2]
    first = load_gazer("oracle", reconstructor=tiny).gaze(video, gazing_ratio=1 / 265)
    history = [first.frame_slots(0, 0).tolist()]
    singles = [
        float(tiny.reconstruct(video, GazeResult.from_frame_slots([history + [[s]]]), frames=[1]).loss)
        for s in range(265)
    ]
    assert first.frame_slots(0, 1).tolist() == [int(np.argmin(singles))]
    assert float(first.frame_loss[0, 1]) == pytest.approx(min(singles), abs=1e-5)


def test_oracle_threshold_stops_early(micro):
    video = micro_video(2, seed=4)
    none = micro.reconstruct(video, GazeResult.from_frame_slots([[[], []]], micro.grid)).loss
    gaze = load_gazer("oracle", reconstructor=micro).gaze(video, gazing_ratio=0.5, task_loss_requirement=10.0)
    assert gaze.num_gazed == 0 and torch.allclose(gaze.frame_loss, none, atol=1e-5)


def test_oracle_with_paint_agrees_with_greedy():
    paint = load_reconstructor("paint", device="cpu", grid=grid_for([32, 64], 16))
    video = micro_video(2, seed=5)
    oracle = load_gazer("oracle", reconstructor=paint).gaze(video, gazing_ratio=1 / 20)
    greedy = load_gazer("greedy", device="cpu", grid=paint.grid).gaze(video, gazing_ratio=1 / 20)
    # Both minimise paint's L1 one slot at a time: the best first slot reaches the same loss.
    assert torch.allclose(oracle.frame_loss, greedy.frame_loss, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="bf16 autocast only runs on CUDA")
def test_bf16_on_cuda_is_close(expected, ref_gaze, synthetic_clip):
    rec = load_videomae(str(WEIGHTS), device="cuda", config=str(CONFIG), rebuild="together")
    loss = rec.reconstruct(synthetic_clip, ref_gaze, frames=REF_FRAMES).loss
    assert torch.allclose(loss, expected["loss_each_reconstruction_frame"], rtol=2e-2)
