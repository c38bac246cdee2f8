"""AutoGaze gazer: conformance with the reference vectors (tiny config), loading, streaming, losses, videos.

The tiny checkpoint and `cases.json` in tests/fixtures/autogaze are outputs of the reference
implementation (NVlabs/AutoGaze); the input videos are regenerated with the spec's formula.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from playground import PlaygroundError, load_gazer
from playground.gaze import GazeResult, concat_frames
from playground.gazers.autogaze import AutoGazeGazer, Preprocessor, load_autogaze
from playground.geometry import DEFAULT_GRID, MultiScaleGrid
from playground.synthetic import moving_square
from playground.tiling import tile_layout
from playground.whole_video import VideoGaze

FIXTURE = Path(__file__).parent / "fixtures" / "autogaze"
MODEL = FIXTURE / "tiny_seed0"
CASES = json.loads((FIXTURE / "cases.json").read_text())["cases"]


@pytest.fixture(scope="module")
def gazer(device) -> AutoGazeGazer:
    return load_autogaze(str(MODEL), device=device)


@pytest.fixture(scope="module")
def videos() -> dict[str, np.ndarray]:
    a = moving_square()
    return {"a": a, "b": np.ascontiguousarray(a[:, :, ::-1]), "448": moving_square(4, 448, 448)}


def run_case(gazer, videos, case):
    kwargs = dict(case["kwargs"])
    streaming = kwargs.pop("streaming", False)
    video = np.stack([videos[name] for name in case["videos"]])
    if streaming:
        return concat_frames(list(gazer.stream(video, **kwargs)))
    return gazer.gaze(video, **kwargs)


# ---- conformance ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_case(gazer, videos, name):
    case = CASES[name]
    result = run_case(gazer, videos, case)
    assert result.gazing_pos.tolist() == case["gazing_pos"]
    assert result.if_padded_gazing.tolist() == case["if_padded_gazing"]
    if "num_gazing_each_frame" in case:
        assert result.num_gazing_each_frame.tolist() == case["num_gazing_each_frame"]


@pytest.fixture(scope="module")
def static_gazer(device) -> AutoGazeGazer:
    return load_autogaze(str(MODEL), device=device, static=True)


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if not c["kwargs"].get("streaming")))
def test_static_decode_steps_give_the_reference_gazes(static_gazer, videos, name):
    """The fixed-shape step over a static cache (what a CUDA graph captures; eager on a CPU) and the
    pool that reuses it across calls give every case's gazes."""
    case = CASES[name]
    for _ in range(2):  # the second call takes the pooled step (and, on CUDA, replays its graph)
        result = run_case(static_gazer, videos, case)
        assert result.gazing_pos.tolist() == case["gazing_pos"]
        assert result.if_padded_gazing.tolist() == case["if_padded_gazing"]
    assert 1 <= len(static_gazer.net._static_steps) <= static_gazer.net.STATIC_POOL  # the step went back


@pytest.mark.parametrize("requirement", [-0.34, -0.36])  # the two clips pad in different frames and steps
def test_static_and_dynamic_steps_predict_the_same_losses(gazer, static_gazer, videos, requirement):
    clips = np.stack([videos["a"], videos["b"]])
    dynamic = gazer.gaze(clips, gazing_ratio=0.3, task_loss_requirement=requirement)
    static = static_gazer.gaze(clips, gazing_ratio=0.3, task_loss_requirement=requirement)
    assert dynamic.if_padded_gazing.any() and dynamic.settings["decoder_calls"] >= 4 * dynamic.num_frames
    assert torch.equal(static.gazing_pos, dynamic.gazing_pos)
    assert torch.allclose(static.loss, dynamic.loss, atol=1e-5, equal_nan=True)


def test_cases_cover_the_issue():
    kinds = {json.dumps(sorted(c["kwargs"])) for c in CASES.values()}
    assert any(len(c["videos"]) == 2 for c in CASES.values())
    assert any(isinstance(c["kwargs"].get("gazing_ratio"), list) for c in CASES.values())
    assert any(c["kwargs"].get("streaming") for c in CASES.values())
    assert any(c["kwargs"].get("target_scales") == [64, 128, 224, 448] for c in CASES.values())
    assert json.dumps(["task_loss_requirement"]) in kinds


def test_retargeted_result_is_on_the_target_grid(gazer, videos):
    result = run_case(gazer, videos, CASES["res_adapt_448_p16_ratio0.1"])
    assert result.grid.scales == (64, 128, 224, 448) and result.grid.num_slots == 1060
    for t in range(result.num_frames):
        ids = result.frame_slots(0, t)
        assert (np.diff(ids) > 0).all(), "retargeted gazes come sorted ascending"
    assert result.loss is not None and torch.isfinite(result.loss[~result.if_padded_gazing]).all()


# ---- streaming ---------------------------------------------------------------------------------


def test_stream_equals_gaze_with_threshold_pads(gazer, videos):
    kwargs = {"gazing_ratio": 0.5, "task_loss_requirement": -0.05}
    static = gazer.gaze(videos["a"], **kwargs)
    frames = list(gazer.stream(videos["a"], **kwargs))
    assert len(frames) == 16 and all(f.num_frames == 1 for f in frames)
    assert all(int(f.gazing_pos[~f.if_padded_gazing].max()) < 265 for f in frames), "ids are frame-local"
    joined = concat_frames(frames)
    assert torch.equal(joined.gazing_pos, static.gazing_pos)
    assert torch.equal(joined.if_padded_gazing, static.if_padded_gazing)
    assert torch.allclose(joined.loss, static.loss, atol=1e-5, equal_nan=True)
    assert static.if_padded_gazing.any(), "the threshold should stop some steps (pads)"


def test_stream_accepts_a_live_iterable(gazer, videos):
    live = (frame for frame in videos["a"][:4])
    frames = list(gazer.stream(live, gazing_ratio=0.1))
    static = gazer.gaze(videos["a"][:4], gazing_ratio=0.1)
    assert torch.equal(concat_frames(frames).gazing_pos, static.gazing_pos)


# ---- predicted losses ----------------------------------------------------------------------------


def test_loss_trace_layout(gazer, videos):
    result = gazer.gaze(np.stack([videos["a"], videos["b"]]), gazing_ratio=0.3, task_loss_requirement=-0.05)
    assert result.loss_kind == "predicted"
    pads = result.if_padded_gazing
    assert torch.isnan(result.loss[pads]).all()
    assert torch.isfinite(result.loss[~pads]).all()
    for b in range(2):
        for t in range(result.num_frames):
            values = result.frame_values(result.loss, b, t)
            assert float(result.frame_loss[b, t]) == pytest.approx(float(values[-1]))


def test_first_gaze_loss_is_head_one_of_the_prefill(gazer, videos):
    """The loss after gaze 0 of frame 0 is the task-loss head 1 read at the last vision token."""
    from playground.models.autogaze import KVCache

    net = gazer.net
    result = gazer.gaze(videos["a"], gazing_ratio=0.1)
    with torch.inference_mode():
        feats, _ = net.encode(gazer.preprocess(videos["a"][None, :1]).to(gazer.device))
        P = feats.shape[2]
        cache = KVCache(net.cfg, 1, P, gazer.device, torch.float32)
        hidden = net.decode(
            feats[:, 0],
            net.rope(torch.arange(P)[None], feats.dtype),
            cache,
            torch.ones(1, P, dtype=torch.bool),
            [P - 1],
        )
        logits, losses = net.heads(hidden[:, 0])
    assert float(result.loss[0, 0]) == pytest.approx(float(losses[0, 1]), abs=1e-6)
    assert int(result.gazing_pos[0, 0]) == int(logits[0, 0, :-1].argmax())


# ---- loading ------------------------------------------------------------------------------------


def test_load_gazer_routes_folders_to_autogaze(videos):
    gazer = load_gazer(str(MODEL), device="cpu")
    assert isinstance(gazer, AutoGazeGazer) and gazer.grid.num_slots == 265


def test_safetensors_file_with_config_and_any_float_dtype(tmp_path, gazer, videos):
    state = load_file(MODEL / "model.safetensors")
    file = tmp_path / "weights.safetensors"
    save_file({k: v.to(torch.float64) for k, v in state.items()}, str(file))
    with pytest.raises(PlaygroundError, match="config"):
        load_autogaze(str(file))
    config = json.loads((MODEL / "config.json").read_text())
    loaded = load_autogaze(str(file), config=config)
    assert all(p.dtype == torch.float32 for p in loaded.net.parameters())
    expected = gazer.gaze(videos["a"][:4], gazing_ratio=0.2)
    assert torch.equal(loaded.gaze(videos["a"][:4], gazing_ratio=0.2).gazing_pos, expected.gazing_pos)
    save_file({k: v.to(torch.bfloat16) for k, v in state.items()}, str(file))
    assert load_autogaze(str(file), config=config).gaze(videos["a"][:2], gazing_ratio=0.1).num_frames == 2


def _folder_with(tmp_path: Path, state: dict[str, torch.Tensor]) -> Path:
    folder = tmp_path / "ckpt"
    folder.mkdir(parents=True)
    for name in ("config.json", "preprocessor_config.json"):
        shutil.copy(MODEL / name, folder / name)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def test_strict_key_check_names_missing_and_unexpected(tmp_path):
    state = load_file(MODEL / "model.safetensors")
    missing = "gazing_model.gaze_decoder.lm_head.weight"
    state.pop(missing)
    state["gazing_model.extra.weight"] = torch.zeros(3)
    with pytest.raises(PlaygroundError) as err:
        load_autogaze(str(_folder_with(tmp_path, state)))
    message = str(err.value)
    assert missing in message and "gazing_model.extra.weight" in message and "\n" not in message


def test_rotary_inv_freq_is_ignored_and_shapes_are_checked(tmp_path):
    state = load_file(MODEL / "model.safetensors")
    state["gazing_model.gaze_decoder.model.rotary_emb.inv_freq"] = torch.ones(16)
    assert isinstance(load_autogaze(str(_folder_with(tmp_path, state))), AutoGazeGazer)
    state["gazing_model.connector.pos_embed"] = torch.zeros(10, 64)
    with pytest.raises(PlaygroundError, match="pos_embed"):
        load_autogaze(str(_folder_with(tmp_path / "again", state)))


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "preprocessor_config.json"])
def test_links_out_of_the_checkpoint_folder_are_refused(tmp_path, name):
    folder = _folder_with(tmp_path, load_file(MODEL / "model.safetensors"))
    outside = tmp_path / "elsewhere" / name
    outside.parent.mkdir()
    shutil.move(folder / name, outside)
    (folder / name).symlink_to(outside)
    with pytest.raises(PlaygroundError, match="outside the checkpoint folder") as info:
        load_autogaze(str(folder))
    assert name in str(info.value) and "\n" not in str(info.value)
    if name != "model.safetensors":  # a weights file named directly may live anywhere; the files beside it may not
        with pytest.raises(PlaygroundError, match=name):
            load_autogaze(str(folder / "model.safetensors"))


def test_hub_cache_snapshot_links_into_its_blobs(tmp_path, monkeypatch):
    repo = tmp_path / "models--someone--LinkedGaze"
    snapshot, blobs = repo / "snapshots" / ("1" * 40), repo / "blobs"
    snapshot.mkdir(parents=True)
    blobs.mkdir()
    for i, name in enumerate(("config.json", "model.safetensors", "preprocessor_config.json")):
        shutil.copy(MODEL / name, blobs / f"blob{i}")
        (snapshot / name).symlink_to(Path("..", "..", "blobs", f"blob{i}"))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("1" * 40)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert isinstance(load_autogaze("someone/LinkedGaze", cache_dir=tmp_path), AutoGazeGazer)
    assert isinstance(load_autogaze(str(snapshot)), AutoGazeGazer)


def test_hub_id_from_the_offline_cache(tmp_path, monkeypatch):
    commit = "0" * 40
    snapshot = tmp_path / "models--someone--TinyGaze" / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "preprocessor_config.json"):
        shutil.copy(MODEL / name, snapshot / name)
    (tmp_path / "models--someone--TinyGaze" / "refs").mkdir()
    (tmp_path / "models--someone--TinyGaze" / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    gazer = load_autogaze("someone/TinyGaze", cache_dir=tmp_path)
    assert gazer.source == "someone/TinyGaze"
    with pytest.raises(PlaygroundError, match="not in the local Hugging Face cache") as err:
        load_autogaze("nvidia/AutoGaze", cache_dir=tmp_path)
    assert "\n" not in str(err.value)


def test_the_old_hub_id_loads_the_moved_model_and_gazers_carry_the_chosen_name(tmp_path, monkeypatch):
    from playground import load_gazer

    commit = "0" * 40
    repo = tmp_path / "models--nvidia--AutoGaze"  # bfshi/AutoGaze now answers 404: it moved here
    (repo / "snapshots" / commit).mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "preprocessor_config.json"):
        shutil.copy(MODEL / name, repo / "snapshots" / commit / name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.warns(UserWarning, match="moved to nvidia/AutoGaze"):
        gazer = load_gazer("bfshi/AutoGaze", cache_dir=tmp_path)
    clip = np.zeros((2, 32, 32, 3), np.uint8)
    assert gazer.source == "nvidia/AutoGaze" and gazer.gaze(clip, gazing_ratio=0.1).gazer == "nvidia/AutoGaze"
    assert load_gazer("autogaze-playground").gaze(clip, gazing_ratio=0.1).gazer == "autogaze-playground"


def test_bad_paths_and_configs(tmp_path):
    with pytest.raises(PlaygroundError, match="no such file"):
        load_autogaze(str(tmp_path / "nothing"))
    folder = tmp_path / "cfg"
    folder.mkdir()
    shutil.copy(MODEL / "model.safetensors", folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(PlaygroundError, match="autogaze"):
        load_autogaze(str(folder))


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("gaze_decoder_config", "hidden_size", 10**9, "shape|sizes do not fit"),
        ("gaze_decoder_config", "hidden_size", 20000, "shape"),
        ("gaze_decoder_config", "num_hidden_layers", 10**6, "1000000 decoder layers"),
        ("vision_model_config", "depth", 10**6, "1000000 vision blocks"),
        ("vision_model_config", "hidden_dim", 10**9, "shape|sizes do not fit"),
        ("gaze_decoder_config", "intermediate_size", -5, "intermediate_size"),
        ("gaze_decoder_config", "hidden_size", "wide", "hidden_size"),
    ],
)
def test_absurd_config_sizes_fail_at_once_without_allocating(tmp_path, monkeypatch, section, key, value, message):
    """The config is checked against the weights' header before any real tensor is made."""
    import time

    import playground.gazers.autogaze.loading as autogaze

    config = json.loads((MODEL / "config.json").read_text())
    config["gaze_model_config"][section][key] = value
    folder = _folder_with(tmp_path, load_file(MODEL / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config))
    built = []
    real = autogaze.AutoGazeNet

    def spy(cfg):
        net = real(cfg)
        built.append(all(t.is_meta for t in net.state_dict().values()))
        return net

    monkeypatch.setattr(autogaze, "AutoGazeNet", spy)
    start = time.perf_counter()
    with pytest.raises(PlaygroundError, match=message) as info:
        load_autogaze(str(folder))
    assert time.perf_counter() - start < 3
    assert "\n" not in str(info.value)
    assert all(built), "the model was built in real memory before its config was checked against the weights"


# ---- preprocessing and knobs ----------------------------------------------------------------------


def test_preprocessor_matches_the_processor_math():
    pre = Preprocessor()
    assert pre.resize_shape(1080, 1920) == (224, 398)
    assert pre.resize_shape(1920, 1080) == (398, 224)
    assert pre.resize_shape(224, 224) == (224, 224)
    frames = moving_square(2)
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    assert torch.equal(pre(frames), ((x / 127.5 - 1) - mean) / std)


def test_non_square_clip_is_resized_then_squashed(gazer):
    clip = moving_square(3, 120, 200)
    result = gazer.gaze(clip, gazing_ratio=0.1)
    assert result.num_frames == 3 and result.grid.num_slots == 265
    assert gazer.preprocess(clip).shape == (3, 3, 224, 373)


def test_defaults_come_from_the_config(gazer, videos):
    result = gazer.gaze(videos["a"][:2])
    assert result.settings["gazing_ratio"] == 0.75 and result.settings["task_loss_requirement"] == 0.7
    assert result.settings.get("defaults") == "fixed / fixed"


def _with_strategies(ratio: str, requirement: str = "fixed", per_frame: str = "uniform", seed=None) -> AutoGazeGazer:
    config = json.loads((MODEL / "config.json").read_text())
    config["gazing_ratio_config"]["sample_strategy_during_inference"] = ratio
    config["gazing_ratio_config"]["uniform"] = {"gazing_ratio_min": 0.05, "gazing_ratio_max": 0.2}
    config["task_loss_requirement_config"]["sample_strategy_during_inference"] = requirement
    config["gazing_ratio_each_frame_config"]["sample_strategy_during_inference"] = per_frame
    return load_autogaze(str(MODEL / "model.safetensors"), config=config, seed=seed)


def test_uniform_default_ratio_is_drawn_in_range_and_seeded(videos):
    clip = videos["a"][:2]
    draws = [_with_strategies("uniform", seed=3).gaze(clip).settings["gazing_ratio"] for _ in range(2)]
    assert draws[0] == draws[1] and 0.05 <= draws[0] <= 0.2  # same seed, same draw
    gazer = _with_strategies("uniform", requirement="uniform")
    first, second = gazer.gaze(clip), gazer.gaze(clip)
    assert first.settings["gazing_ratio"] != second.settings["gazing_ratio"]  # a fresh draw per call
    assert 0.5 <= first.settings["task_loss_requirement"] <= 1.0  # the fixture's uniform range
    assert first.settings["defaults"] == "uniform / uniform"
    # The draw is a real cap: the frames never take more than it allows.
    assert first.counts().max() <= int(np.float32(first.settings["gazing_ratio"]) * np.float32(265))


@pytest.mark.parametrize(
    "ratio, per_frame, match",
    [
        ("exponential", "uniform", "'exponential' strategy"),
        ("fixed", "dirichlet", "'dirichlet' strategy"),
    ],
)
def test_unsupported_default_strategies_fail_only_when_used(videos, ratio, per_frame, match):
    gazer = _with_strategies(ratio, per_frame=per_frame)
    assert gazer.gaze(videos["a"][:2], gazing_ratio=0.1).num_frames == 2  # explicit knobs still work
    with pytest.raises(PlaygroundError, match=match):
        gazer.gaze(videos["a"][:2])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"gazing_ratio": 1.5}, "gazing_ratio"),
        ({"gazing_ratio": [0.1, 0.2]}, "entries"),
        ({"task_loss_requirement": "low"}, "task_loss_requirement"),
        ({"target_scales": [64, 128, 224, 448]}, "together"),
        ({"target_scales": [64, 448], "target_patch_size": 16}, "scales"),
        ({"gazing_ratio": 0.1, "temperature": 2}, "unknown"),
    ],
)
def test_bad_knobs(gazer, videos, kwargs, match):
    with pytest.raises(PlaygroundError, match=match):
        gazer.gaze(videos["a"][:4], **kwargs)


def test_clip_len_restarts_the_caches_in_gaze_and_stream(videos):
    clip = np.stack([videos["a"][:8], videos["b"][:8]])
    ratios = [0.3, 0.1, 0.2, 0.1, 0.3, 0.1, 0.2, 0.05]
    chunked = load_autogaze(str(MODEL), clip_len=4)
    plain = load_autogaze(str(MODEL))
    pieces = [plain.gaze(clip[:, i : i + 4], gazing_ratio=ratios[i : i + 4]) for i in (0, 4)]
    expected = concat_frames(pieces)
    got = chunked.gaze(clip, gazing_ratio=ratios)
    assert got.gazing_pos.tolist() == expected.gazing_pos.tolist()
    assert got.if_padded_gazing.tolist() == expected.if_padded_gazing.tolist()
    assert got.settings["clip_len"] == 4
    streamed = concat_frames(list(chunked.stream(clip, gazing_ratio=ratios)))
    assert streamed.gazing_pos.tolist() == got.gazing_pos.tolist()
    # Without restarts frames 4..7 see frames 0..3 and gaze differently: the knob does something.
    assert plain.gaze(clip, gazing_ratio=ratios).gazing_pos.tolist() != got.gazing_pos.tolist()
    with pytest.raises(PlaygroundError, match="clip_len"):
        load_autogaze(str(MODEL), clip_len=0)


# ---- whole videos -----------------------------------------------------------------------------------


def test_gaze_video_chunks_tiles_and_maps_back(gazer):
    video = moving_square(20, 96, 160)  # 20 frames (a 16-frame chunk and a 4-frame one), 2 tiles
    progress = []
    result = gazer.gaze_video(
        video, gazing_ratio=0.1, tile=96, batch_size=3, progress=lambda d, n: progress.append((d, n))
    )
    assert progress[-1] == (4, 4)
    lazy = gazer.gaze_video((f for f in video), gazing_ratio=0.1, tile=96, batch_size=3)
    assert torch.equal(lazy.gaze.gazing_pos, result.gaze.gazing_pos)
    assert result.num_frames == 20 and result.layout.num_tiles == 2 and result.layout.tile == 96
    # Tile 1 of the second chunk is exactly a gaze of that crop (padded to 96 px) on its own.
    crop = np.empty((4, 96, 96, 3), np.uint8)
    crop[...] = (189, 186, 179)
    crop[:, :, :64] = video[16:, :, 96:]
    direct = gazer.gaze(crop, gazing_ratio=0.1)
    for t in range(4):
        assert result.gaze.frame_slots(1, 16 + t).tolist() == direct.frame_slots(0, t).tolist()
    found = result.boxes(17)
    boxes = found["boxes"]
    assert 26 < len(boxes) <= 2 * 26, "tile 1's gazes inside the padding are dropped"
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 96).all() and (boxes[:, 3] <= 160).all()
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    assert (boxes[found["tile"] == 1][:, 1] >= 96).all(), "tile 1 starts at x = 96"
    cover = result.coverage(17)
    assert cover.shape == (96, 160) and cover.max() >= 0


@pytest.mark.parametrize("grid", [DEFAULT_GRID, MultiScaleGrid((56, 112, 196, 392), 14)], ids=["224", "392"])
def test_video_coverage_is_the_finest_scale_map_of_each_tile(grid):
    # 150x200 frame in 96 px tiles: 2x3 tiles, the last row and column partly padding.
    layout = tile_layout(150, 200, 96)
    rng = np.random.default_rng(0)
    slots = [
        [rng.choice(grid.num_slots, size=int(rng.integers(0, 40)), replace=False).tolist() for _ in range(3)]
        for _ in range(layout.num_tiles)
    ]
    video = VideoGaze(gaze=GazeResult.from_frame_slots(slots, grid), layout=layout, chunk_len=16)
    for t in range(3):
        tiles = grid.finest_scale_map(video.gaze.slot_mask()[:, t], 96, 96).numpy()  # (tiles, 96, 96)
        padded = np.block([[tiles[r * layout.cols + c] for c in range(layout.cols)] for r in range(layout.rows)])
        cover = video.coverage(t)
        assert cover.dtype == np.int8 and cover.shape == (150, 200)
        assert np.array_equal(cover, padded[:150, :200])
    with pytest.raises(PlaygroundError, match="outside"):
        video.coverage(3)


def test_gaze_video_single_square_tile_boxes_are_the_grid_boxes(gazer):
    video = moving_square(4)
    result = gazer.gaze_video(video, gazing_ratio=0.05)
    slots = result.gaze.frame_slots(0, 2)
    assert np.array_equal(result.boxes(2)["boxes"], gazer.grid.boxes(slots))


def test_retarget_any_input_size_batch_and_threshold(gazer):
    clips = np.stack([moving_square(3, 150, 200), moving_square(3, 150, 200)[:, ::-1]])
    result = gazer.gaze(
        clips, gazing_ratio=0.2, task_loss_requirement=-0.05, target_scales=[56, 112, 196, 392], target_patch_size=14
    )
    assert result.grid.num_slots == 1060 and result.batch_size == 2 and result.num_frames == 3
    assert result.frame_loss.shape == (2, 3) and torch.isfinite(result.frame_loss).all()
    padded = result.if_padded_gazing
    assert (result.gazing_pos[padded] % 1060 == 1059).all(), "padding holds -1 + 1060 * t"
    assert result.settings["tiles"] == 4
    json.dumps(result.to_json())  # NaN losses serialise as null


def test_greedy_pick_is_the_same_in_numpy_and_torch():
    """The CPU pick (NumPy) and the device pick (tensor ops) choose the same ids, ties included."""
    from playground.models.autogaze import session as m

    gen = torch.Generator().manual_seed(0)
    logits = torch.randint(0, 6, (4, 10, 266), generator=gen).float()  # many ties
    used = torch.rand(4, 266, generator=gen) < 0.3
    for left in (10, 4):
        tokens, early = m.greedy_pick(logits, used, left, 10)
        assert tokens.tolist() == m._greedy_torch(logits, used, min(10, left)).tolist()
        assert early == (left < 10) and tokens.shape == (4, min(10, left))
        assert not used.gather(1, tokens).any()  # banned ids are never picked
        assert all(len(set(row)) == len(row) for row in tokens.tolist())  # no repeats within a step
